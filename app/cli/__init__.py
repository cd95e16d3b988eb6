"""The command line: `main(argv, out)` parses, loads the config, builds what the subcommand
needs and runs it; one module per subcommand. `python bot.py --help` lists them."""

from __future__ import annotations

import logging
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

# Only what every command needs is imported here; each command imports the rest when it
# runs, so `mentions ...` and read-only `command ...` pay for no chat SDK, source or analyser.
import sources.kinds  # noqa: F401  (every source kind's config section, before a config is read)
from app.cli.command import cmd_command, command_text, next_to_the_bot_hint
from app.cli.parser import (
    build_parser,
    chat_command_hint,
    options_among_words,
    subcommand_names,
)
from app.logging_setup import setup_logging
from app.queries import QueryApp
from core.commands.service import is_read_only
from core.config import ConfigError, load_config
from storage.atomic_json import STORE_FAILURES, StorageError, failure_text

if TYPE_CHECKING:
    from app.buzzwatch import Buzzwatch

log = logging.getLogger("buzzwatch")

# Commands whose output is meant for a pipe: `python bot.py export | head` ends quietly.
PIPED_COMMANDS = {"export", "mentions", "classify", "check-config"}


def main(
    argv: Sequence[str] | None = None, out: TextIO | None = None, as_program: bool = False
) -> int:
    """Run the command line `argv` (None: sys.argv); its answers go to `out` (None:
    sys.stdout), errors and the log to stderr; the exit code. `as_program`: this is the
    process itself (`python bot.py`), so SIGPIPE may end the piped commands quietly."""
    parser = build_parser()
    hint = chat_command_hint(sys.argv[1:] if argv is None else argv, subcommand_names(parser))
    if hint:
        print(f"bot.py: error: {hint}", file=sys.stderr)
        return 2
    args = parser.parse_args(argv)
    if args.command in ("mentions", "command"):
        args = options_among_words(args)
    if as_program and args.command in PIPED_COMMANDS and hasattr(signal, "SIGPIPE"):
        # Only for these: the running bot must never die of a chat client hanging up.
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    out = out or sys.stdout
    setup_logging(args.verbose, args.quiet or args.command == "classify", args.log_format)
    text = command_text(args) if args.command in ("mentions", "command") else ""
    try:
        config, path = load_config(args.config)
        if args.command == "check-config":
            from app.cli.check_config import cmd_check_config

            return cmd_check_config(config, path, out, args.sample)
        if args.command == "classify":
            from app.cli.classify import cmd_classify

            return cmd_classify(config, args, out)
        refuse_data_dir_file(config.data_dir)  # every command below opens the store
        if args.command == "export":
            from app.cli.export import cmd_export

            return cmd_export(config, args, out)
        if args.command == "migrate":
            from app.cli.migrate import cmd_migrate

            return cmd_migrate(config, args, out)
        log.info("config: %s", path)
        if args.command == "mentions" or (args.command == "command" and is_read_only(text)):
            # A query: the repository (read-only: no lock on the data folder, so it works
            # next to a running bot) and the command service, nothing else.
            app: QueryApp | Buzzwatch = QueryApp(config, start_empty=args.start_empty)
        else:
            from app.buzzwatch import Buzzwatch

            app = Buzzwatch(
                config,
                dry_run=args.dry_run,
                # These queue work for the bot: a chat secret not set here must not stop them.
                offline_ok=args.command in ("command", "console", "digest", "import"),
                stdout=out,
                start_empty=args.start_empty,
            )
    except (ConfigError, StorageError) as err:
        print(f"error: {err}", file=sys.stderr)
        if isinstance(err, StorageError) and "another Buzzwatch process" in str(err):
            hint = next_to_the_bot_hint(args.command, text)
            if hint:
                print(hint, file=sys.stderr)
        return 2
    except OSError as err:  # a file named on the command line (classify, export...)
        where = f"{err.filename}: " if err.filename else ""
        print(f"error: {where}{err.strerror or err}", file=sys.stderr)
        return 2
    try:
        if isinstance(app, QueryApp):
            return cmd_command(app, text, out)
        if args.command == "console":
            from app.cli.console import cmd_console

            return cmd_console(app, out)
        if args.command == "digest":
            from app.cli.digest import cmd_digest

            return cmd_digest(app, args, out)
        if args.command == "import":
            from app.cli.import_ import cmd_import

            return cmd_import(app, args, out)
        if args.command in ("mentions", "command"):
            return cmd_command(app, text, out)
        from app.cli.run import cmd_run

        return cmd_run(app, args)
    except STORE_FAILURES as err:
        return storage_failed(err)
    finally:
        app.close()


def refuse_data_dir_file(data_dir: Path) -> None:
    """A data_dir that is a file (a typo, a store file named as the folder): the bot said
    "data: File exists", and read-only commands found no store there and answered "No
    mentions", as for a bot that never ran."""
    if data_dir.exists() and not data_dir.is_dir():
        raise StorageError(
            f"data_dir {data_dir} is a file, not a folder: point data_dir at the folder that "
            "holds the store (it is made if missing)"
        )
    if data_dir.is_symlink() and not data_dir.exists():  # (exists() is False for a loop)
        raise StorageError(
            f"data_dir {data_dir} is a symbolic link to nothing ({os.readlink(data_dir)}): "
            "make the folder it points to, or point data_dir at the folder itself"
        )


def storage_failed(err: Exception) -> int:
    """A write failed (a full disk: the error names the file), or the store is damaged."""
    from app.runloop import EXIT_STORAGE_FAILED

    print(f"error: {failure_text(err)}", file=sys.stderr)
    return EXIT_STORAGE_FAILED
