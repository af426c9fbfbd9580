"""The runtime wheel is built only when the app's copy is not what this funnx would write."""

from __future__ import annotations

import dataclasses
import io
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hatchling.builders.wheel import WheelBuilder

from framework.generator import runtime_wheel, write_files


@pytest.fixture
def builds(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every hatchling wheel build this test makes (a fresh process: no build made earlier is reused)."""
    made: list[str] = []
    original = WheelBuilder.build

    def counting(self: WheelBuilder, *args: Any, **kwargs: Any) -> Any:
        made.append(self.root)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(WheelBuilder, "build", counting)
    runtime_wheel._built.cache_clear()
    yield made
    runtime_wheel._built.cache_clear()


def wheel_of(app_dir: Path) -> Path:
    return app_dir / runtime_wheel.FOLDER / runtime_wheel.wheel_name()


def test_an_app_whose_wheel_is_current_is_not_rebuilt(app_dir: Path, builds: list[str]) -> None:
    before, count = wheel_of(app_dir).read_bytes(), len(builds)
    assert runtime_wheel.plan_refresh(app_dir) == []
    assert len(builds) == count  # `funnx new` / `funnx package` on an up-to-date app: no hatchling build
    assert wheel_of(app_dir).read_bytes() == before


def test_a_process_builds_the_wheel_once(builds: list[str]) -> None:
    first = runtime_wheel.build()
    assert runtime_wheel.build() == first
    assert len(builds) == 1


def test_the_build_is_reproducible(builds: list[str]) -> None:
    first = runtime_wheel.build()
    runtime_wheel._built.cache_clear()
    assert runtime_wheel.build() == first and len(builds) == 2


def test_a_wheel_built_from_other_sources_is_replaced(app_dir: Path, builds: list[str]) -> None:
    current = runtime_wheel.current_inputs()
    files = tuple((name, content + b"# another funnx\n" if name == "framework/errors.py" else content)
                  for name, content in current.files)  # fmt: skip
    wheel_of(app_dir).write_bytes(runtime_wheel._built(dataclasses.replace(current, files=files)))
    plans = runtime_wheel.plan_refresh(app_dir)
    assert [p.path for p in plans] == [wheel_of(app_dir)]
    assert plans[0].content == runtime_wheel.build()


@pytest.mark.parametrize("damage", ["edited file", "extra file", "not a zip"])
def test_a_damaged_wheel_is_replaced(app_dir: Path, builds: list[str], damage: str) -> None:
    wheel = wheel_of(app_dir)
    good = wheel.read_bytes()
    if damage == "not a zip":
        wheel.write_bytes(good[: len(good) // 2])
    else:
        with zipfile.ZipFile(io.BytesIO(good)) as source, zipfile.ZipFile(wheel, "w") as target:
            for name in source.namelist():
                content = source.read(name)
                target.writestr(
                    name, content + b"x = 1\n" if name == "framework/errors.py" and damage == "edited file" else content
                )
            if damage == "extra file":
                target.writestr("framework/runtime/injected.py", "import os\n")
    plans = runtime_wheel.plan_refresh(app_dir)
    assert [p.path for p in plans] == [wheel]
    write_files(plans)
    assert wheel.read_bytes() == good and runtime_wheel.plan_refresh(app_dir) == []
