"""``nbtune`` on a terminal: list the studies of a storage file, show one, export its trials,
delete one.

``python -m nbtune studies [PATH]``, ``python -m nbtune show NAME [PATH]`` (``--trial N``: that
trial in full, a failure's whole traceback),
``python -m nbtune export NAME [PATH] --csv FILE`` (or ``--json FILE``; ``--reports``: a row
per report) and
``python -m nbtune delete NAME [PATH]`` (NAME may be a shell-style pattern, ``'study-*'``); PATH
defaults to ``nbtune.db``. A missing file or study is one line on stderr and exit status 2.
"""
from __future__ import annotations

import argparse
import glob
import json as json_module
import math
import os
import sqlite3
import sys
from typing import Any, Sequence

from .lease import StudyBusy
from .paths import DEFAULT_FILE, StorageError, relative_to_cwd
from .storage import Storage
from .studies import StudyNotFound, delete_studies, delete_study, list_studies, load_study
from .study import Study
from .trial_messages import trial_details
from .listing import studies_frame
from .typos import did_you_mean

DEFAULT_PATH = DEFAULT_FILE
COMMANDS = ("studies", "show", "export", "delete", "list", "ls")  # the subcommands, aliases last
SHOWN_NAMES = 10  # the names a pattern's delete lists, then "and N more"
# options people give for the file, as storage= and %%tune --storage name it: the file is an
# argument here
FILE_OPTIONS = ("--storage", "--path", "--db", "--file")


def build_parser() -> argparse.ArgumentParser:
    """The parser of the ``nbtune`` command and its subcommands."""
    p = argparse.ArgumentParser(prog="nbtune", description="The studies nbtune keeps in a "
                                "storage file (SQLite), from a terminal.")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    studies = sub.add_parser("studies", aliases=["list", "ls"],  # nbtune.list_studies's word
                             help="list the studies of a storage file")
    studies.add_argument("path", nargs="?", default=DEFAULT_PATH,
                         help=f"storage file (default {DEFAULT_PATH})")
    show = sub.add_parser("show", help="print the summary of one study")
    show.add_argument("name", help="the study's name (see `nbtune studies`)")
    show.add_argument("path", nargs="?", default=DEFAULT_PATH,
                      help=f"storage file (default {DEFAULT_PATH})")
    show.add_argument("--top", type=int, default=10, help="trials in the table (default 10)")
    show.add_argument("--trial", type=int, metavar="N", help="print trial N in full instead: "
                      "its config, values, the whole traceback of a failure, its output")
    export = sub.add_parser("export", help="write one study's trials (study.to_dataframe()) "
                            "as CSV or JSON")
    export.add_argument("name", help="the study's name (see `nbtune studies`)")
    export.add_argument("path", nargs="?", default=DEFAULT_PATH,
                        help=f"storage file (default {DEFAULT_PATH})")
    form = export.add_mutually_exclusive_group()  # one of them: see main()
    form.add_argument("--csv", metavar="FILE", help="write CSV to FILE ('-': standard output)")
    form.add_argument("--json", metavar="FILE", help="write JSON, one object per trial, to "
                      "FILE ('-': standard output)")
    export.add_argument("--reports", action="store_true", help="a row per report, not per "
                        "trial (study.reports_dataframe(): the learning curves)")
    delete = sub.add_parser("delete", help="remove a study, with its trials, from the file")
    delete.add_argument("name", help="the study's name (see `nbtune studies`), or a pattern "
                        "such as 'study-*' (quoted) for every study it matches")
    delete.add_argument("path", nargs="?", default=DEFAULT_PATH,
                        help=f"storage file (default {DEFAULT_PATH})")
    for command in (studies, show, export, delete):
        command.set_defaults(command_parser=command)  # its options, for a mistyped one
    return p


class _Failed(Exception):
    """A request that cannot be met: its message is the one line the command prints."""


def _storage(path: str, name: str | None = None) -> Storage:
    if not os.path.isfile(path):
        swapped = (f"; the study's name comes first: nbtune COMMAND {path} {name}"
                   if name is not None and os.path.isfile(name) else "")
        where = "" if swapped else relative_to_cwd(path)  # the swap says what is wrong
        raise _Failed(f"no study storage at {path!r}{where}: give the path "
                      f"of a file nbtune wrote (the default is nbtune.db in this folder)"
                      f"{swapped}")
    try:
        return Storage(path, readonly=True)
    except StorageError as exc:
        raise _Failed(str(exc)) from None


def _load(name: str, path: str) -> Study:
    _storage(path, name).close()
    try:
        return load_study(name, storage=path)
    except StudyNotFound as exc:
        raise _Failed(f"{exc}; `nbtune studies {path}` lists them") from None


def _show(study: Study, args: argparse.Namespace) -> str:
    """The study's text summary, with the command that prints its latest failure's traceback;
    or, with ``--trial N``, that trial in full."""
    if args.trial is not None:
        try:
            return trial_details(study, args.trial)
        except ValueError as exc:
            raise _Failed(str(exc)) from None
    text = str(study.summary(top=args.top))
    failed = [t for t in study.trials if t.state == "failed" and t.error]
    if failed:
        where = "" if args.path == DEFAULT_PATH else f" {args.path}"
        text += (f"\n(the latest failure's traceback: nbtune show {study.name}{where} "
                 f"--trial {failed[-1].id})")
    return text


def _delete(name: str, path: str) -> str:
    if glob.has_magic(name) and name not in list_studies(path):
        return _delete_matching(name, path)
    trials = len(_load(name, path).trials)
    try:
        delete_study(name, storage=path)
    except StudyBusy as exc:
        raise _Failed(str(exc)) from None
    return f"nbtune: deleted study {name!r} ({trials} trials) from {path}"


def _delete_matching(pattern: str, path: str) -> str:
    _storage(path).close()
    try:
        names = delete_studies(pattern, storage=path)
    except StudyNotFound as exc:
        raise _Failed(f"{exc}; `nbtune studies {path}` lists them") from None
    except StudyBusy as exc:
        raise _Failed(str(exc)) from None
    shown = ", ".join(names[:SHOWN_NAMES]) + (f" and {len(names) - SHOWN_NAMES} more"
                                              if len(names) > SHOWN_NAMES else "")
    return (f"nbtune: deleted {len(names)} stud{'y' if len(names) == 1 else 'ies'} matching "
            f"{pattern!r} from {path}: {shown}")


def list_studies_table(path: str) -> str:
    """The table `nbtune studies` prints: name, metric, trials per state, best, last change."""
    db = _storage(path)
    try:
        frame = studies_frame(db)
    finally:
        db.close()
    if frame.empty:
        return f"no studies in {path!r}"
    # every column read down its left edge, as a terminal's tables do: the study names were
    # right-aligned (first-day test, round 20)
    widths = {c: max(len(c), *(len(str(v)) for v in frame[c])) for c in frame.columns}
    left = {c: (lambda w: lambda v: f"{v!s:<{w}}")(widths[c]) for c in frame.columns}
    return frame.to_string(index=False, justify="left", formatters=left)


def _records(frame: Any) -> list[dict[str, Any]]:
    """The frame's rows as JSON values: floats as Python writes them, which read back to the
    same number (pandas' JSON keeps 15 digits at most: configs retrained from it scored
    otherwise, 0.827 against 0.729; first-day test, round 26), times in ISO form, and a
    missing value as null."""
    def plain(value: Any) -> Any:
        if hasattr(value, "isoformat"):  # a Timestamp (NaT is no time: null)
            return None if value != value else value.isoformat()
        value = value.item() if hasattr(value, "item") else value  # numpy's scalars
        return None if isinstance(value, float) and not math.isfinite(value) else value

    return [{key: plain(value) for key, value in row.items()}
            for row in frame.reset_index().to_dict(orient="records")]


def _export(study: Study, csv: str | None, json: str | None, reports: bool = False
            ) -> str | None:
    frame = study.reports_dataframe().set_index("trial") if reports else study.to_dataframe()
    target = csv if csv is not None else json
    out = sys.stdout if target == "-" else target
    try:
        if csv is not None:
            frame.to_csv(out)
        else:
            text = json_module.dumps(_records(frame), indent=1)
            if out is sys.stdout:
                print(text)
            else:
                with open(out, "w", encoding="utf-8") as f:  # type: ignore[arg-type]
                    f.write(text + "\n")
    except BrokenPipeError:  # `nbtune export NAME --json - | head`: see main()
        raise
    except OSError as exc:
        raise _Failed(f"cannot write {target!r}: {exc.strerror or exc}") from None
    if target == "-":
        return None
    rows = f"{len(frame)} reports" if reports else f"{len(frame)} trials"
    return f"nbtune: wrote {rows} of study {study.name!r} to {target}"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``nbtune`` command; returns its exit status."""
    parser = build_parser()
    words = list(sys.argv[1:] if argv is None else argv)
    if words and not words[0].startswith("-") and words[0] not in COMMANDS:
        # argparse's "invalid choice" named no near one (`nbtune lst`: check round 43)
        parser.exit(2, f"nbtune: error: unknown command {words[0]!r}"
                       f"{did_you_mean(words[0], COMMANDS)}: nbtune "
                       f"{{{','.join(COMMANDS[:4])}}} ... (nbtune -h)\n")
    args, unknown = parser.parse_known_args(argv)
    if unknown and not unknown[0].startswith("-") and getattr(args, "path", None) == DEFAULT_PATH \
            and DEFAULT_PATH not in words:  # the file after an option (`show NAME --trial 0
        args.path = unknown.pop(0)  # runs.db`): argparse takes positionals before (round 55)
    if getattr(args, "path", None):  # a quoted '~/runs.db' (storage= takes it so too)
        args.path = os.path.expanduser(args.path)
    typed = args.command  # `list` is `studies`: its messages say the word typed
    if args.command in ("list", "ls"):
        args.command = "studies"
    if unknown:  # said before what is missing: `--cvs x.csv` was "one of --csv --json required"
        options = [o for action in args.command_parser._actions for o in action.option_strings]
        if unknown[0].split("=")[0] in FILE_OPTIONS:  # storage= in Python, --storage in %%tune
            where = "" if args.command == "studies" else " NAME"
            parser.exit(2, f"nbtune: error: {typed} takes the storage file as an "
                           f"argument, not {unknown[0].split('=')[0]}: nbtune {typed}"
                           f"{where} FILE\n")
        parser.exit(2, f"nbtune: error: {args.command} does not take {unknown[0]!r}"
                       f"{did_you_mean(unknown[0], options)}\n")
    if args.command == "export" and args.csv is None and args.json is None:
        parser.exit(2, "nbtune: error: export needs --csv FILE or --json FILE ('-': standard "
                       "output)\n")
    try:
        if args.command == "studies":
            print(list_studies_table(args.path))
        elif args.command == "show":
            print(_show(_load(args.name, args.path), args))
        elif args.command == "delete":
            print(_delete(args.name, args.path))
        else:
            said = _export(_load(args.name, args.path), args.csv, args.json, args.reports)
            if said:
                print(said)
        sys.stdout.flush()  # a reader gone shows here, not as Python's complaint at exit
    except BrokenPipeError:  # `nbtune show NAME | head`: the reader has all it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except _Failed as exc:
        parser.exit(2, f"nbtune: error: {exc}\n")
    except sqlite3.DatabaseError as exc:
        parser.exit(2, f"nbtune: error: {args.path!r} is not a study storage ({exc})\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
