"""The `layerdrop` command line: a thin layer over the library, one module per command.

stdout carries data (tables, --json); progress, logs and errors go to stderr. Errors a user can
fix print one line and exit 2 (1 when a run failed); `--debug` shows the traceback instead.
"""

from __future__ import annotations

import inspect
import os
import sys

import typer
from typer.core import TyperGroup

from layerdrop import __version__
from layerdrop.cli import common
from layerdrop.errors import LayerdropError

try:  # typer >= 0.26 vendors click; its exceptions are the ones raised
    from typer import _click as click
except ImportError:  # pragma: no cover - older typer uses click itself
    import click


# transformers' advisory warnings would bury our one-line errors; progress bars still show.
# Users who want them back set TRANSFORMERS_VERBOSITY themselves.
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")


class LayerdropGroup(TyperGroup):
    """Turns expected errors into one line on stderr with the right exit code."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except LayerdropError as exc:
            if common.STATE["debug"]:
                raise
            common.fail(str(exc), exc.exit_code)
        except KeyboardInterrupt:
            common.err.print("interrupted")
            _exit_interrupted()

    def main(self, *args, **kwargs):
        raw = kwargs.get("args", args[0] if args else None)
        common.STATE["argv"] = list(raw) if raw is not None else sys.argv[1:]  # what executors hand their workers
        kwargs["standalone_mode"] = False
        try:
            code = super().main(*args, **kwargs)
        except typer.Exit as exc:
            sys.exit(exc.exit_code)
        except typer.Abort:
            _exit_interrupted()
        except click.exceptions.NoArgsIsHelpError:
            sys.exit(0)  # bare `layerdrop`: the help is already printed
        except click.ClickException as exc:
            # Click's own usage errors (unknown flag, bad value): one line, not a boxed panel.
            where = f" (see {exc.ctx.command_path} --help)" if getattr(exc, "ctx", None) else ""
            print(f"error: {exc.format_message()}{where}", file=sys.stderr)
            sys.exit(exc.exit_code)
        sys.exit(code if isinstance(code, int) else 0)


def _exit_interrupted() -> None:
    """Exit 130 after Ctrl-C or SIGTERM, with the record already written and fsynced.

    Not sys.exit: when the signal lands inside exec() of a string (dataclasses and namedtuple build
    their methods that way while modules import), CPython marks the KeyboardInterrupt as unhandled
    even though we caught it, and at shutdown re-kills the process with SIGINT (status -2, not 130).
    """
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(130)


app = typer.Typer(
    cls=LayerdropGroup,
    name="layerdrop",
    help="Drop layers of pretrained transformers, fine-tune the smaller model, and measure what it costs.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        print(f"layerdrop {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks for errors."),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    """Drop layers of pretrained transformers, fine-tune the smaller model, and measure what it costs.

    Start with [bold]layerdrop plan[/] to see which layers a strategy drops, then
    [bold]layerdrop drop[/] to save a smaller model.
    """
    common.STATE["debug"] = debug


def _reflow(doc: str) -> str:
    """Join the lines of each prose paragraph, keeping indented ones (the examples) as they are.

    In rich markup mode Typer keeps a docstring's line breaks, so source lines wrapped at 100
    columns would break again mid-sentence in an 80-column terminal.
    """
    paragraphs = inspect.cleandoc(doc).split("\n\n")
    return "\n\n".join(p if any(line[:1].isspace() for line in p.splitlines()) else " ".join(p.split("\n"))
                       for p in paragraphs)


def _register() -> None:
    # Registration in one place; each command lives in its own module.
    from layerdrop.cli import analyze, drop, models, plan, report, run, strategies, sweep

    for name, command in (("run", run.run), ("sweep", sweep.sweep), ("report", report.report), ("plan", plan.plan),
                          ("drop", drop.drop), ("strategies", strategies.strategies), ("models", models.models)):
        app.command(name, help=_reflow(command.__doc__))(command)
    for command in analyze.analyze_app.registered_commands:
        command.help = _reflow(command.callback.__doc__)
    app.add_typer(analyze.analyze_app, name="analyze")


_register()


def main() -> None:
    app()
