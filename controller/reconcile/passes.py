"""One reconcile pass: sync git → load and validate the manifests → read the records →
observe → plan → act → record.

The record is one commit per pass that changed something, under the status path only,
pushed with fetch + rebase + retry. Invalid manifests never drive a pass: the last good
state is used (and the error reported) when there is one, else the pass stops before
anything is observed or changed. The Jira observation is kept between passes so that a
pass with nothing new costs one search; after the pass wrote to Jira, the next one
observes in full.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

from controller.adapters.approvals import Verifier
from controller.adapters.git import Commit, StatusRepository
from controller.errors import Disposition, RelctlError
from controller.manifests import loading
from controller.manifests.config import ControllerConfig
from controller.manifests.state import DEFAULT_CONFIG, DesiredState
from controller.plan import conditions, deliveries, planner, publications
from controller.plan.actions import Comment, Notify, Publish, RunJob, TagRelease
from controller.plan.conditions import Conditions
from controller.plan.observed import JiraObservation
from controller.plan.plans import Finding, FindingKind, Plan
from controller.plan.records import MAX_BYTES, RecordError, ReleaseStatus, from_yaml, to_yaml
from controller.reconcile.connect import Adapters, connect
from controller.reconcile.executor import Outcome, Result, execute
from controller.reconcile.observe import observe
from controller.schedule.validation import diagnose, fatal, without_broken_releases

RELEASES_DIR = "releases"
NOTES_DIR = "notes"
_ids = itertools.count(1)


def next_pass_id() -> int:
    return next(_ids)


class InvalidManifests(RelctlError):
    """The manifests at the head of the branch are invalid."""

    disposition = Disposition.STALLED


@dataclass
class PassReport:
    id: int
    at: datetime
    revision: str = ""
    plan: Plan | None = None
    outcomes: list[Outcome] = field(default_factory=list)
    commit: Commit | None = None
    problems: list[str] = field(default_factory=list)
    """Reported, not fatal: invalid manifests (last good used), bad signal files."""
    error: RelctlError | None = None
    seconds: float = 0.0
    requests: tuple[int, int] = (0, 0)
    """(Jira, Kubernetes) requests made by this pass."""
    frozen: frozenset[str] = frozenset()
    """Releases whose status file is unreadable: no action, no record this pass."""
    unobserved: frozenset[str] = frozenset()
    """Clusters that could not be observed: their releases waited, the others went on."""

    @property
    def ok(self) -> bool:
        """Everything went as planned: no error, no failed action, every cluster seen.
        A replica whose passes keep not being ok gives its lease up."""
        return (
            self.error is None
            and not self.unobserved
            and not any(o.result is Result.FAILED for o in self.outcomes)
        )


def read_statuses(
    repo: StatusRepository,
    cache: dict[str, tuple[str, ReleaseStatus]] | None = None,
    problems: dict[str, str] | None = None,
) -> dict[str, ReleaseStatus]:
    """Every release's record. With `cache` (path → (text, record)), a file whose text is
    unchanged since the last pass is not parsed again.

    A file that cannot be a record (too large, not UTF-8, a symbolic link, unparseable, or
    claiming another release than its name) is put in `problems` under the release its
    name gives, and that release is left out; without `problems` it is a RecordError."""
    found = {}
    status_path = repo.settings.status_path
    for relative, path in repo.record_files(RELEASES_DIR, ".yaml"):
        where = f"{status_path}/{relative}"
        name = relative.rsplit("/", 1)[-1].removesuffix(".yaml")
        try:
            text = record_text(path, where)
            cached = cache.get(relative) if cache is not None else None
            if cached is not None and cached[0] == text:
                status = cached[1]
            else:
                status = from_yaml(text, where)
                if cache is not None:
                    cache[relative] = (text, status)
            if status.release != name:
                raise RecordError(
                    f"{where} claims release {status.release!r}; a record is named after "
                    "its release"
                )
        except RecordError as exc:
            if problems is None:
                raise
            problems[name] = str(exc)
            continue
        found[status.release] = status
    return found


def read_conditions(repo: StatusRepository, problems: list[str]) -> Conditions | None:
    """The recorded conditions and their outbox (none yet: empty). A file that cannot be
    one is a problem, and findings are not notified until it is fixed (None)."""
    path = repo.status_dir / conditions.PATH
    where = f"{repo.settings.status_path}/{conditions.PATH}"
    if not path.exists() and not path.is_symlink():
        return Conditions()
    try:
        return conditions.from_yaml(record_text(path, where), where)
    except RecordError as exc:
        problems.append(
            f"{exc}; findings are not notified until it is a relctl record again (git revert "
            "the commit that changed it)"
        )
        return None


def record_text(path: Path, where: str) -> str:
    if path.is_symlink():
        raise RecordError(f"{where} is a symbolic link; a record is a file of its own")
    size = path.stat().st_size
    if size > MAX_BYTES:
        raise RecordError(f"{where} is {size} bytes, over the {MAX_BYTES // 1024} KiB limit")
    try:
        return path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RecordError(f"{where}: not UTF-8 (byte {exc.start})") from None


def _signature(root: Path, manifests: str) -> tuple[tuple[str, int, int], ...]:
    """(path, size, mtime) of relctl.yaml and every file under the manifests path: what
    a change to the desired state must change (git rewrites a file it changes)."""
    found = []
    config = root / loading.CONFIG_FILE
    paths = [config] if config.is_file() else []
    base = root / manifests
    if base.is_dir():
        paths += [p for p in base.rglob("*") if p.is_file()]
    for path in sorted(paths):
        stat = path.stat()
        found.append((str(path.relative_to(root)), stat.st_size, stat.st_mtime_ns))
    return tuple(found)


def config_of(workdir: Path) -> ControllerConfig:
    """The ControllerConfig in the work tree (for git settings before the first sync)."""
    result = loading.load(workdir)
    return result.states[0].config if result.states else DEFAULT_CONFIG


class Reconciler:
    """Runs passes over one working clone. Keeps the last good manifests and the last
    Jira observation between passes."""

    def __init__(
        self,
        workdir: Path,
        env: Mapping[str, str],
        *,
        dry_run: bool = False,
        adapters: Callable[[ControllerConfig, Mapping[str, str]], Adapters] = connect,
        on_outcome: Callable[[Outcome], None] = lambda _: None,
    ) -> None:
        self.workdir = workdir.resolve()
        self.env = env
        self.dry_run = dry_run
        self._connect = adapters
        self._adapters: Adapters | None = None
        self.on_outcome = on_outcome
        self.last_good: DesiredState | None = None
        self.previous_jira: JiraObservation | None = None
        self.last_report: PassReport | None = None
        self._records: dict[str, tuple[str, ReleaseStatus]] = {}
        self._loaded: tuple[tuple[tuple[str, int, int], ...], loading.LoadResult] | None = None
        self.invalid: str | None = None
        """Why the branch head's manifests are invalid, while the last good ones are used."""
        self.verifier = Verifier(self.workdir)
        """Approvals' signatures, verified once per release file revision."""
        self._wall: datetime | None = None
        """The wall-clock instant the pass under way began (its `now` may be simulated)."""

    def close(self) -> None:
        if self._adapters is not None:
            self._adapters.close()
            self._adapters = None

    def request_errors(self) -> tuple[int, int]:
        """(Jira, Kubernetes) requests that failed so far."""
        return self._adapters.errors() if self._adapters is not None else (0, 0)

    def adapters(self, config: ControllerConfig) -> Adapters:
        if self._adapters is None:
            self._adapters = self._connect(config, self.env)
        return self._adapters

    def run(
        self,
        now: datetime,
        *,
        proceed: Callable[[], bool] = lambda: True,
        may_record: Callable[[], bool] = lambda: True,
        pass_id: int | None = None,
    ) -> PassReport:
        """One pass. `proceed()` is asked before each action, `may_record()` before the
        commit: a replica that lost its lease mid-pass stops acting and records nothing
        (the new leader re-plans from the same records, as after a crash)."""
        report = PassReport(pass_id if pass_id is not None else next(_ids), now)
        self._wall = datetime.now(UTC)  # when the pass took `now` (see observe)
        started = time.monotonic()
        try:
            self._run(report, now, proceed, may_record)
        except RelctlError as exc:
            report.error = exc
        report.seconds = time.monotonic() - started
        self.last_report = report
        return report

    def refresh(self, now: datetime) -> tuple[DesiredState, dict[str, ReleaseStatus]]:
        """What a standby does instead of a pass: sync git and load the manifests and the
        records, so that it serves the calendar and the status; nothing is observed,
        changed or recorded."""
        report = PassReport(0, now)
        with self._repository() as repo, repo.exclusive():
            self._sync(report, repo)
            state = self._load(report, now)
        with StatusRepository(self.workdir, state.config.spec.git) as repo:
            return state, read_statuses(repo, self._records, {})

    def _repository(self) -> StatusRepository:
        config = self.last_good.config if self.last_good is not None else config_of(self.workdir)
        return StatusRepository(self.workdir, config.spec.git)

    def _sync(self, report: PassReport, repo: StatusRepository) -> None:
        """Bring the clone back to what a killed pass may have left it in, fetch and
        rebase onto the remote branch (when there is one and this is no dry run)."""
        if not self.dry_run:
            report.problems.extend(repo.recover())
        if self._remote(repo):
            report.revision = repo.sync()
        else:
            report.revision = repo.head()

    def _remote(self, repo: StatusRepository) -> bool:
        return not self.dry_run and repo.has_remote()

    def _run(
        self,
        report: PassReport,
        now: datetime,
        proceed: Callable[[], bool],
        may_record: Callable[[], bool],
    ) -> None:
        with self._repository() as first, first.exclusive():
            self._sync(report, first)
            state = self._load(report, now)
            with StatusRepository(self.workdir, state.config.spec.git) as repo:
                self._act(report, now, state, repo, proceed, may_record)

    def _act(
        self,
        report: PassReport,
        now: datetime,
        state: DesiredState,
        repo: StatusRepository,
        proceed: Callable[[], bool],
        may_record: Callable[[], bool],
    ) -> None:
        remote = self._remote(repo)
        unreadable: dict[str, str] = {}
        recorded = read_statuses(repo, self._records, unreadable)
        for name, problem in sorted(unreadable.items()):
            report.problems.append(
                f"{problem}; release {name} is left alone (no action, no record) until the "
                "file is a relctl record again (git revert the commit that changed it)"
            )
        report.frozen = report.frozen | frozenset(unreadable)
        adapters = self.adapters(state.config)
        adapters.clones = repo.git_dir / "relctl-environments"
        before = adapters.requests()
        observed, problems = observe(
            state, adapters, self.workdir, now, self.previous_jira, recorded, self._wall,
            self.verifier,
        )  # fmt: skip
        report.problems.extend(problems)
        report.unobserved = frozenset(observed.unobserved)
        held = read_conditions(repo, report.problems)
        plan = planner.plan(state, observed, recorded, now, held)
        report.plan = plan
        enforce = state.config.spec.mode == "enforce" and not self.dry_run
        report.outcomes = execute(
            plan,
            adapters,
            observed,
            enforce=enforce,
            on_outcome=self.on_outcome,
            proceed=proceed,
            frozen=report.frozen,
            tagger=lambda tag: repo.tag(tag.tag, tag.revision, tag.message),
            reader=repo.read_document,
        )
        wrote_jira = any(
            o.result is Result.DONE and o.action.kind.system == "jira" for o in report.outcomes
        )
        self.previous_jira = None if wrote_jira else observed.jira
        jira_after, kube_after = adapters.requests()
        report.requests = (jira_after - before[0], kube_after - before[1])
        if self.dry_run or not may_record():
            return
        report.commit = self._record(repo, plan, report, remote)

    def _load(self, report: PassReport, now: datetime) -> DesiredState:
        config = self.last_good.config if self.last_good is not None else DEFAULT_CONFIG
        signature = _signature(self.workdir, config.spec.manifests_path)
        if self._loaded is not None and self._loaded[0] == signature:
            result = self._loaded[1]  # nothing changed on disk: parse nothing again
        else:
            result = loading.load(self.workdir)
            self._loaded = (signature, result)
        errors = fatal(diagnose(result, now))
        if errors and result.states:
            isolated = without_broken_releases(result.states[0], errors, now)
            if isolated is not None:
                state, broken = isolated
                for name, first in sorted(broken.items()):
                    report.problems.append(
                        f"release {name} is invalid ({first.file}:{first.line}:{first.column}: "
                        f"{first.code} {first.message}); it is left alone (no action, no "
                        "record) until it is fixed, and the other releases go on"
                    )
                report.frozen = report.frozen | frozenset(broken)
                self.invalid = None
                self.last_good = state
                return state
        if errors:
            first = errors[0]
            summary = (
                f"{len(errors)} invalid manifest(s); first: {first.file}:{first.line}:"
                f"{first.column}: {first.code} {first.message}"
            )
            self.invalid = summary
            if self.last_good is None:
                raise InvalidManifests(summary + "; nothing was done (run relctl validate)")
            report.problems.append(summary + "; keeping the last good manifests")
            return self.last_good
        if not result.states:
            raise InvalidManifests(f"no manifests found under {self.workdir}")
        self.invalid = None
        self.last_good = result.states[0]
        return self.last_good

    def _record(
        self, repo: StatusRepository, plan: Plan, report: PassReport, remote: bool
    ) -> Commit | None:
        statuses = dict(plan.statuses)
        kept = plan.conditions
        for outcome in report.outcomes:
            action = outcome.action
            if outcome.result is Result.DONE and isinstance(action, Comment | RunJob | TagRelease):
                statuses[action.release] = statuses[action.release].with_done((action.done,))
            if isinstance(action, Publish) and outcome.result is not Result.SKIPPED:
                page = outcome.value
                statuses[action.release] = publications.settle(
                    statuses[action.release],
                    action.path,
                    plan.at,
                    page=page.page if page is not None else "",
                    version=page.version if page is not None else 0,
                    response=outcome.detail,
                    published=outcome.result is Result.DONE,
                    retry_after=outcome.requeue_after,
                )
            if isinstance(action, Notify) and not action.release and kept is not None:
                if outcome.result is not Result.SKIPPED:
                    kept = conditions.settle(
                        kept, action.notice.id, plan.at, outcome.detail,
                        delivered=outcome.result is Result.DONE, permanent=outcome.refused,
                        retry_after=outcome.requeue_after,
                    )  # fmt: skip
                continue
            if isinstance(action, Notify) and outcome.result is not Result.SKIPPED:
                statuses[action.release] = deliveries.settle(
                    statuses[action.release],
                    action.notice.id,
                    plan.at,
                    outcome.detail,
                    delivered=outcome.result is Result.DONE,
                    permanent=outcome.refused,
                    retry_after=outcome.requeue_after,
                )
        files: dict[str, str] = {}
        written: dict[str, ReleaseStatus] = {}
        for name, status in statuses.items():
            if plan.recorded.get(name) == status or name in report.frozen:
                continue
            written[name] = status
            stamped = replace(
                status,
                decisions=tuple(
                    d if d.revision else replace(d, revision=report.revision)
                    for d in status.decisions
                ),
            )
            files[f"{RELEASES_DIR}/{name}.yaml"] = to_yaml(stamped)
        for name, text in plan.notes.items():
            if name not in report.frozen:
                files[f"{NOTES_DIR}/{name}.md"] = text
        for name, documents in plan.documents.items():
            if name not in report.frozen:
                files.update(documents)
        if kept is not None and kept != plan.recorded_conditions:
            files[conditions.PATH] = conditions.to_yaml(kept)
        commit = None
        if files:
            subject, body, trailers = commit_message(plan, report.revision, written)
            commit = repo.record(files, subject, body, trailers)
        # Also what an earlier pass committed but could not push: late, never lost.
        if remote and repo.unpushed():
            repo.push()
        return commit


def commit_message(
    plan: Plan, revision: str, written: Mapping[str, ReleaseStatus]
) -> tuple[str, str, list[tuple[str, str]]]:
    """`relctl: <release> <DECISION>` (several, comma-separated, when a pass decided for
    several releases), a body with each rationale, and trailers. A pass that decided
    nothing says what it recorded of each release it `written`: measurements, Jobs
    started, step results."""
    decisions = plan.decisions
    latest: dict[str, str] = {}
    for release, record in decisions:
        latest[release] = record.decision.value
    notes: dict[str, str] = {}
    if not latest:
        for name, status in sorted(written.items()):
            notes[name] = _recorded(plan, status)
    items = [f"{name} {decision}" for name, decision in {**latest, **notes}.items()]
    if not items:
        items = ["conditions and their notifications"]
    subject = (
        "relctl: " + ", ".join(items[:3]) + (f" (+{len(items) - 3} more)" if len(items) > 3 else "")
    )
    body = "\n".join(f"- {name} {d.decision}: {d.rationale}" for name, d in decisions)
    trailers: list[tuple[str, str]] = []
    for name, decision in latest.items():
        trailers.append(("Relctl-Release", name))
        trailers.append(("Relctl-Decision", decision))
    trailers.extend(("Relctl-Release", name) for name in notes)
    trailers.append(("Relctl-Source-Revision", revision))
    return subject, body, trailers


def _recorded(plan: Plan, status: ReleaseStatus) -> str:
    """What a pass without a decision recorded of a release: "measured (2)", "started 2
    Jobs", "steps: smoke-test Failed", or its phase."""
    before = plan.recorded.get(status.release)
    parts = []
    measured = [m for m in status.measurements if m.at == plan.at]
    if measured:
        parts.append(f"measured ({len(measured)})")
    started = set(status.done) - set(before.done if before else ())
    jobs = [d for d in started if d.startswith("job:")]
    if jobs:
        parts.append(f"started {len(jobs)} Job{'s' if len(jobs) > 1 else ''}")
    finished = [r for r in status.steps if before is None or r not in before.steps]
    if finished:
        parts.append("steps: " + ", ".join(sorted({f"{r.step} {r.state}" for r in finished})))
    return ", ".join(parts) or status.phase.name


def findings_of(report: PassReport) -> list[Finding]:
    """The plan's findings plus the pass's own problems and failures, as findings."""
    found = list(report.plan.findings) if report.plan is not None else []
    found += [Finding(FindingKind.ERROR, "relctl", p) for p in report.problems]
    found += [
        Finding(FindingKind.ERROR, o.action.chain, f"{o.action.describe()} failed: {o.detail}")
        for o in report.outcomes
        if o.result is Result.FAILED
    ]
    return found
