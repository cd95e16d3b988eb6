"""The chat-neutral command layer: Slack, DingTalk and the console all call it.

`service.CommandService.run(text, actor)` parses one command line and returns a Reply whose
text is plain (no markup): each adapter escapes and formats it for its platform.

A command is declared once, with the function that runs it (errbot's `@botcmd` is the
model): `@commands.command("status", aliases=("状态",), read_only=True)` above a handler
whose docstring is its entry in `help`. The help text, the aliases, which lines only read
and the Slack slash commands all come from those declarations (`service.COMMANDS`).

- context.py: what a handler gets (Actor, CommandContext) and gives back (Reply)
- registry.py: the `Command` record, the declaring decorators, the lookup
- parsing.py: tokenizing, `mentions` queries, alert ids, durations, report arguments
- search.py, alerts.py, status.py, reports.py, silences.py, help_text.py: the commands
- service.py: the command list in `help` order, `CommandService`, `is_read_only`
"""
