"""`export`: write stored mentions as CSV or JSON lines."""

from __future__ import annotations

import argparse
import sys
from typing import TextIO

from app.cli.report_options import report_args
from core.config import Config
from core.domain.clock import SystemClock


def cmd_export(config: Config, args: argparse.Namespace, out: TextIO) -> int:
    from tqdm import tqdm

    from core.reports import export
    from storage.factory import effective_backend, open_repository

    try:
        brand, since = report_args(config, args)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    repo = open_repository(
        effective_backend(config.storage, config.data_dir),
        config.data_dir,
        read_only=True,
        dsn_env=config.storage.dsn_env,
    )
    try:
        start = SystemClock().now() - since
        docs = export.select(repo.iter_mentions(start), start, brand)
    finally:
        repo.close()
    stream = open(args.output, "w", encoding="utf-8", newline="") if args.output else out  # noqa: SIM115
    bar = tqdm(total=len(docs), unit=" mentions", file=sys.stderr, disable=len(docs) < 5000)
    try:
        n = export.write(
            docs,
            args.format,
            stream,
            negative_threshold=config.rules.negative_threshold,
            positive_threshold=config.rules.positive_threshold,
            progress=bar.update,
            tz=config.tz,
        )
    finally:
        bar.close()
        if args.output:
            stream.close()
    if args.output:
        print(f"{n} mention(s) written to {args.output}", file=sys.stderr)
    return 0
