"""Apply in one click: a real kernel, and this test in the frontend's place.

The test speaks to the kernel as JupyterLab does: execute requests carry the cell's id, and the
test answers the ``nbtune.apply`` comm as nbtune's JupyterLab extension does (or closes it, as
JupyterLab without the extension does). The browser test of test_browser.py drives the real
extension.
"""
from __future__ import annotations

import uuid

import pytest

from kernels import kernel_environ


EDIT = "%%tune --edit -n 3\nlr    = loguniform(1e-4, 1e-1)\nunits = choice(8, 16)\nloss = lr * units"
EDITED = EDIT.replace("choice(8, 16)", "choice(8, 16, 32)")
CLICK = ("ed = _\ned.views[1].inputs['values'].value = ['8', '16', '32']\n"
         "ed.apply_button.click()")


class Frontend:
    """A kernel and a client that sends cell ids and answers the extension's comm."""

    def __init__(self, tmp_path) -> None:
        from jupyter_client.manager import start_new_kernel

        self.km, self.kc = start_new_kernel(kernel_name="python3", cwd=str(tmp_path),
                                            env=kernel_environ())

    def run(self, code: str, cell_id: str | None = None) -> tuple[dict, list[dict]]:
        """Execute `code` as the cell `cell_id`: (the reply's content, its iopub messages)."""
        msg = self.kc.session.msg("execute_request", {
            "code": code, "silent": False, "store_history": True, "user_expressions": {},
            "allow_stdin": False, "stop_on_error": True})
        if cell_id is not None:
            msg["metadata"]["cellId"] = cell_id
        self.kc.shell_channel.send(msg)
        seen = []
        while True:
            io = self.kc.get_iopub_msg(timeout=60)
            if io["parent_header"].get("msg_id") != msg["header"]["msg_id"]:
                continue
            seen.append(io)
            if io["msg_type"] == "status" and io["content"]["execution_state"] == "idle":
                break
        while True:
            reply = self.kc.get_shell_msg(timeout=60)
            if reply["parent_header"].get("msg_id") == msg["header"]["msg_id"]:
                break
        assert reply["content"]["status"] == "ok", reply["content"]
        return reply["content"], seen

    def value(self, expr: str) -> str:
        """`expr` evaluated in the kernel, as its text/plain output."""
        _, seen = self.run(f"print({expr})")
        return "".join(m["content"]["text"] for m in seen if m["msg_type"] == "stream")

    def send(self, msg_type: str, comm_id: str, data: dict | None = None) -> None:
        self.kc.shell_channel.send(self.kc.session.msg(msg_type, {"comm_id": comm_id,
                                                                   "data": data or {}}))

    def stop(self) -> None:
        self.kc.stop_channels()
        self.km.shutdown_kernel(now=True)


@pytest.fixture
def frontend(tmp_path):
    fe = Frontend(tmp_path)
    fe.run("%load_ext nbtune")
    yield fe
    fe.stop()


def _opened(seen: list[dict]) -> list[dict]:
    return [m["content"] for m in seen if m["msg_type"] == "comm_open"
            and m["content"]["target_name"] == "nbtune.apply"]


def _writes(seen: list[dict]) -> list[dict]:
    return [m["content"] for m in seen if m["msg_type"] == "comm_msg"
            and "write" in m["content"]["data"]]


def test_with_the_extension_apply_writes_the_cell_in_one_click(frontend):
    cell = str(uuid.uuid4())
    _, seen = frontend.run(EDIT, cell)
    (opened,) = _opened(seen)
    assert opened["data"]["cell_id"] == cell
    frontend.send("comm_msg", opened["comm_id"], {"ready": True})
    _, seen = frontend.run(CLICK)
    (write,) = _writes(seen)
    # the cell's exact text, without the final newline that IPython added and the cell lacks
    assert write["data"]["old"] == EDIT and write["data"]["new"] == EDITED
    assert "writing" in frontend.value("ed.status.value")
    frontend.send("comm_msg", opened["comm_id"], {"written": write["data"]["write"]})
    assert "written into the cell" in frontend.value("ed.status.value")

    # a second Apply in the same editor asks to change what the cell now reads
    _, seen = frontend.run("ed.views[1].inputs['values'].value = ['8']\n"
                           "ed.apply_button.click()")
    (write,) = _writes(seen)
    final = EDIT.replace("choice(8, 16)", "choice(8)")
    assert write["data"]["old"] == EDITED and write["data"]["new"] == final
    frontend.send("comm_msg", opened["comm_id"], {"written": write["data"]["write"]})
    assert "written into the cell" in frontend.value("ed.status.value")
    reply, _ = frontend.run(final, cell)  # the cell as the extension left it, run again
    assert reply["payload"] == []  # nothing left for a second Shift+Enter to write


def test_when_the_extension_cannot_write_the_cell_the_edit_stays_shown_and_is_dropped(frontend):
    """The lines stay in the editor to copy; the refused edit is not kept for later: it
    rewrote the cell, unasked, when the cell next read as it had (first-day test, round 66)."""
    cell = str(uuid.uuid4())
    _, seen = frontend.run(EDIT, cell)
    (opened,) = _opened(seen)
    frontend.send("comm_msg", opened["comm_id"], {"ready": True})
    _, seen = frontend.run(CLICK)
    (write,) = _writes(seen)
    frontend.send("comm_msg", opened["comm_id"],
                  {"failed": write["data"]["write"], "reason": "the cell was changed since"})
    status = frontend.value("ed.status.value")
    assert "not written: the cell was changed since; copy the lines below" in status
    assert "units = choice(8, 16, 32)" in frontend.value("ed.code.value")
    assert frontend.run(EDIT, cell)[0]["payload"] == []  # the cell, back as it ran: left alone


def test_run_waits_for_the_new_lines_and_runs_only_where_they_were_written(frontend):
    """Run ran the body as the editor opened on it, over a cell typed into since, and said
    "applied" (first-day test, round 66): it now starts once the lines are in the cell."""
    frontend.run("%config Tune.workers = 1")
    cell = str(uuid.uuid4())
    _, seen = frontend.run(EDIT.replace("-n 3", "-n 3 --study refused"), cell)
    (opened,) = _opened(seen)
    frontend.send("comm_msg", opened["comm_id"], {"ready": True})
    _, seen = frontend.run(CLICK.replace("apply_button", "run_button"))
    (write,) = _writes(seen)
    assert "the study starts once they are written" in frontend.value("ed.status.value")
    frontend.send("comm_msg", opened["comm_id"],
                  {"failed": write["data"]["write"], "reason": "the cell was changed since"})
    status = frontend.value("ed.status.value")
    assert "not run: the cell was changed since; run the cell (Shift+Enter)" in status, status
    assert frontend.value("__import__('nbtune').list_studies()").strip() == "[]"

    _, seen = frontend.run(EDIT.replace("-n 3", "-n 3 --metric loss --study written"), cell)
    (opened,) = _opened(seen)
    frontend.send("comm_msg", opened["comm_id"], {"ready": True})
    _, seen = frontend.run(CLICK.replace("apply_button", "run_button"))
    (write,) = _writes(seen)
    frontend.send("comm_msg", opened["comm_id"], {"written": write["data"]["write"]})
    status = frontend.value("ed.status.value")
    for _ in range(120):  # the study runs in the kernel as it handles the answer
        if "ran study" in status:
            break
        status = frontend.value("ed.status.value")
    assert "written into the cell; ran study &#x27;written&#x27;" in status, status
    # the edited space ran, 32 among its units, in the cell's body
    assert frontend.value("len(study.trials), study.space['units'].values").strip() == \
        "3 [8, 16, 32]"


def test_without_the_extension_apply_keeps_the_old_two_step_way(frontend):
    """JupyterLab without the extension closes the comm it has no target for."""
    cell = str(uuid.uuid4())
    _, seen = frontend.run(EDIT, cell)
    (opened,) = _opened(seen)
    frontend.send("comm_close", opened["comm_id"])
    _, seen = frontend.run(CLICK)
    assert _writes(seen) == []
    assert "run this cell again (Shift+Enter)" in frontend.value("ed.status.value")
    (payload,) = frontend.run(EDIT, cell)[0]["payload"]
    assert payload["replace"] is True and payload["text"] == EDITED + "\n"


def test_a_frontend_that_never_answers_keeps_the_old_way(frontend):
    """VS Code or classic Notebook: no cell id or no answer; Apply says to run the cell again."""
    _, seen = frontend.run(EDIT, str(uuid.uuid4()))
    assert len(_opened(seen)) == 1  # asked, never answered
    _, seen = frontend.run(CLICK)
    assert _writes(seen) == []
    assert "run this cell again (Shift+Enter)" in frontend.value("ed.status.value")
    _, seen = frontend.run(EDIT)  # no cell id: nothing is asked
    assert _opened(seen) == []


def test_a_notebook_that_goes_away_before_answering_leaves_the_second_shift_enter(frontend):
    cell = str(uuid.uuid4())
    _, seen = frontend.run(EDIT, cell)
    (opened,) = _opened(seen)
    frontend.send("comm_msg", opened["comm_id"], {"ready": True})
    _, seen = frontend.run(CLICK)
    assert len(_writes(seen)) == 1
    frontend.send("comm_close", opened["comm_id"])
    assert "run this cell again (Shift+Enter)" in frontend.value("ed.status.value")
    (payload,) = frontend.run(EDIT, cell)[0]["payload"]
    assert payload["text"] == EDITED + "\n"


def test_a_page_reloaded_since_the_cell_ran_gets_the_second_shift_enter(frontend):
    """The editor came back after a reload, but the page held no end of the cell's channel:
    Apply said "writing the new lines into the cell..." for good (first-day test, round 25)."""
    import time

    cell = str(uuid.uuid4())
    _, seen = frontend.run("import nbtune.notebook.cell_writer as W\nW.ANSWER_WITHIN = 0.5")
    _, seen = frontend.run(EDIT, cell)
    (opened,) = _opened(seen)
    frontend.send("comm_msg", opened["comm_id"], {"ready": True})  # the page before the reload
    _, seen = frontend.run(CLICK)
    assert len(_writes(seen)) == 1 and "writing" in frontend.value("ed.status.value")
    time.sleep(1.0)  # no answer: the page that would write the cell is gone
    assert "run this cell again (Shift+Enter)" in frontend.value("ed.status.value")
    (payload,) = frontend.run(EDIT, cell)[0]["payload"]
    assert payload["text"] == EDITED + "\n"


def test_an_answer_after_the_wait_still_counts(frontend):
    """A slow page: Apply said to run the cell again, then the page wrote the cell after all."""
    import time

    cell = str(uuid.uuid4())
    frontend.run("import nbtune.notebook.cell_writer as W\nW.ANSWER_WITHIN = 0.5")
    _, seen = frontend.run(EDIT, cell)
    (opened,) = _opened(seen)
    frontend.send("comm_msg", opened["comm_id"], {"ready": True})
    _, seen = frontend.run(CLICK)
    (write,) = _writes(seen)
    deadline = time.monotonic() + 20  # the wait is 0.5 s: on a loaded machine, its timer later
    while "run this cell again (Shift+Enter)" not in frontend.value("ed.status.value"):
        assert time.monotonic() < deadline, frontend.value("ed.status.value")
        time.sleep(0.2)
    frontend.send("comm_msg", opened["comm_id"], {"written": write["data"]["write"]})
    assert "written into the cell" in frontend.value("ed.status.value")
    reply, _ = frontend.run(EDITED, cell)  # the cell as the page wrote it: nothing left to write
    assert reply["payload"] == []
