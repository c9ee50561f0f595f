"""Long work off the server's event loop: a worker thread with progress and cancel, and the widgets that show it.

The worker only sets plain attributes (``fraction``, ``message``, ``result``, ``error``); a periodic callback of
the browser session copies them into widgets, so no widget is touched from another thread. Cancel sets an event
that the work sees at its next progress report (``Job.report`` raises ``Cancelled``): a cohort stops after the
chunk it is computing (finished chunks stay in the run folder and a rerun resumes them).
"""

from __future__ import annotations

import threading
import traceback
from typing import Any, Callable

import panel as pn

from nksim.errors import NksimError


class Cancelled(Exception):
    """Raised inside the work when the user pressed Cancel."""


class Job:
    """``work(job)`` in a daemon thread; ``work`` calls ``job.report(fraction, message)`` as it goes."""

    def __init__(self, work: Callable[["Job"], Any]) -> None:
        self.work = work
        self.fraction = 0.0
        self.message = "starting"
        self.result: Any = None
        self.partial: Any = None  # a first result the work publishes before it ends (e.g. the first figures)
        self.error: str | None = None
        self.cancelled = False
        self.done = False
        self._cancel = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True, name="nksim-app-job")

    def start(self) -> "Job":
        self.thread.start()
        return self

    def cancel(self) -> None:
        self._cancel.set()

    def report(self, fraction: float, message: str = "") -> None:
        """Progress in [0, 1]; raises ``Cancelled`` once Cancel was pressed."""
        if self._cancel.is_set():
            raise Cancelled()
        self.fraction = min(max(float(fraction), 0.0), 1.0)
        if message:
            self.message = message

    def _run(self) -> None:
        try:
            self.result = self.work(self)
        except Cancelled:
            self.cancelled = True
        except NksimError as exc:  # the user's input: the message the CLI prints
            self.error = str(exc)
        except MemoryError:
            self.error = "out of memory (fewer patients or a shorter horizon need less)"
        except Exception as exc:  # noqa: BLE001 - shown in the page, logged with its traceback on the server
            traceback.print_exc()
            self.error = f"internal error: {type(exc).__name__}: {exc}"
        finally:
            self.done = True


class JobControls:
    """Run / Cancel buttons, a progress bar and a status line driving one ``Job`` at a time.

    ``make_work()`` is called in the session when Run is pressed (it reads the widgets and returns the work
    function, or raises ``NksimError`` for bad settings); ``on_done(result)`` runs in the session afterwards,
    ``on_partial(job.partial)`` whenever the work has published a new partial result."""

    def __init__(self, label: str, make_work: Callable[[], Callable[[Job], Any]],
                 on_done: Callable[[Any], None], name: str,
                 on_partial: Callable[[Any], None] | None = None) -> None:
        self.make_work, self.on_done, self.on_partial = make_work, on_done, on_partial
        self.run_button = pn.widgets.Button(label=label, button_type="primary", css_classes=[f"nk-run-{name}"])
        self.cancel_button = pn.widgets.Button(label="Cancel", button_type="warning", disabled=True,
                                               css_classes=[f"nk-cancel-{name}"])
        self.progress = pn.indicators.Progress(value=0, max=1000, visible=False, sizing_mode="stretch_width",
                                               css_classes=[f"nk-progress-{name}"])
        self.status = pn.pane.Markdown("", css_classes=[f"nk-status-{name}"], sizing_mode="stretch_width")
        self.job: Job | None = None
        self._poll = None
        self.run_button.on_click(lambda _: self.start())
        self.cancel_button.on_click(lambda _: self.job and self.job.cancel())

    def panel(self) -> pn.layout.Panel:
        return pn.Column(pn.Row(self.run_button, self.cancel_button), self.progress, self.status,
                         sizing_mode="stretch_width")

    def start(self) -> None:
        if self.job is not None and not self.job.done:
            return
        try:
            work = self.make_work()
        except NksimError as exc:
            self.status.object = f"**error:** {exc}"
            return
        self.job = Job(work).start()
        self.run_button.disabled, self.cancel_button.disabled = True, False
        self.progress.value, self.progress.visible = 0, True
        self.status.object = "running ..."
        self._poll = pn.state.add_periodic_callback(self._tick, period=200)

    def _tick(self) -> None:
        job = self.job
        if job is None:
            return
        self.progress.value = int(1000 * job.fraction)
        if self.on_partial is not None and job.partial is not None and not job.cancelled:
            self.on_partial(job.partial)
        if not job.done:
            self.status.object = job.message
            return
        if self._poll is not None:
            self._poll.stop()
            self._poll = None
        self.run_button.disabled, self.cancel_button.disabled = False, True
        self.progress.visible = False
        if job.cancelled:
            self.status.object = "cancelled (finished work is kept; run again to resume)"
        elif job.error is not None:
            self.status.object = f"**error:** {job.error}"
        else:
            self.status.object = job.message
            try:
                self.on_done(job.result)
            except NksimError as exc:
                self.status.object = f"**error:** {exc}"
