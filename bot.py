"""Buzzwatch: social-listening alerts for Slack, DingTalk and the console.

The entry point: `python bot.py --help` lists the commands. The command line lives in
app/cli/ (a module per subcommand); the composition of the parts in app/buzzwatch.py.
"""

from __future__ import annotations

import sys

from app.cli import main

if __name__ == "__main__":
    sys.exit(main(as_program=True))
