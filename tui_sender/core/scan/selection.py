"""Which studies and series the user picked to send.

Plain data so the TUI, the tests and any script share one definition of
"selected": a study is picked whole, or some of its series are. A whole
study stays whole while a background scan is still adding series to it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import Enum

from tui_sender.core.model.catalog import Catalog, Instance, Study


class Mark(Enum):
    """How much of a study is selected."""

    NONE = " "
    SOME = "~"
    ALL = "x"


@dataclass(slots=True)
class Selection:
    """Whole studies, plus individually picked series of other studies."""

    catalog: Catalog
    _whole: set[str] = field(default_factory=set)
    _series: dict[str, set[str]] = field(default_factory=dict)

    def study_mark(self, study_uid: str) -> Mark:
        """None, some or all of the study's series."""
        if study_uid in self._whole:
            return Mark.ALL
        chosen = self._series.get(study_uid)
        if not chosen:
            return Mark.NONE
        study = self.catalog.studies[study_uid]
        return Mark.ALL if len(chosen) >= len(study.series) else Mark.SOME

    def series_selected(self, study_uid: str, series_uid: str) -> bool:
        """True when this series will be sent."""
        return study_uid in self._whole or series_uid in self._series.get(study_uid, ())

    def toggle_study(self, study_uid: str) -> Mark:
        """Select the whole study, or clear it if it was wholly selected."""
        if self.study_mark(study_uid) is Mark.ALL:
            self._whole.discard(study_uid)
            self._series.pop(study_uid, None)
        else:
            self._whole.add(study_uid)
            self._series.pop(study_uid, None)
        return self.study_mark(study_uid)

    def toggle_series(self, study_uid: str, series_uid: str) -> bool:
        """Flip one series; return whether it is now selected."""
        if study_uid in self._whole:
            self._whole.discard(study_uid)
            self._series[study_uid] = set(self.catalog.studies[study_uid].series)
        chosen = self._series.setdefault(study_uid, set())
        if series_uid in chosen:
            chosen.discard(series_uid)
            if not chosen:
                del self._series[study_uid]
            return False
        chosen.add(series_uid)
        return True

    def set_studies(self, study_uids: Iterable[str], selected: bool) -> None:
        """Select or clear many whole studies at once (select all / none)."""
        for uid in study_uids:
            self._series.pop(uid, None)
            if selected:
                self._whole.add(uid)
            else:
                self._whole.discard(uid)

    def clear(self) -> None:
        """Nothing selected."""
        self._whole.clear()
        self._series.clear()

    @property
    def study_uids(self) -> list[str]:
        """Studies with something selected, in catalog order."""
        return [uid for uid in self.catalog.studies if uid in self._whole or uid in self._series]

    def studies(self) -> list[Study]:
        """Those studies."""
        return [self.catalog.studies[uid] for uid in self.study_uids]

    def instances(self) -> list[Instance]:
        """Every instance that will be sent."""
        out: list[Instance] = []
        for uid in self.study_uids:
            study = self.catalog.studies[uid]
            for series in study.series.values():
                if self.series_selected(uid, series.uid):
                    out.extend(series.instances)
        return out

    def totals(self) -> tuple[int, int, int]:
        """(studies, files, bytes) selected."""
        files = self.instances()
        return len(self.study_uids), len(files), sum(i.size for i in files)
