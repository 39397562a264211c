from __future__ import annotations

import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from authward.masterkey import MasterSecret, load_master_secret
from authward.settings import Settings


def test_generated_key_file_is_private_and_kept(tmp_path: Path) -> None:
    settings = Settings(key_file=str(tmp_path / "authward.key"))
    first = load_master_secret(settings)
    mode = stat.S_IMODE((tmp_path / "authward.key").stat().st_mode)
    assert mode == 0o600
    assert load_master_secret(settings).raw == first.raw
    assert len(first.raw) >= 32


def test_workers_starting_together_agree_on_one_secret(tmp_path: Path) -> None:
    settings = Settings(key_file=str(tmp_path / "authward.key"))
    with ThreadPoolExecutor(8) as pool:
        secrets = set(pool.map(lambda _: load_master_secret(settings).raw, range(16)))
    assert len(secrets) == 1
    assert [p.name for p in tmp_path.iterdir()] == ["authward.key"]


def test_derived_keys_differ_by_purpose_and_repr_hides_the_secret() -> None:
    master = MasterSecret(b"s" * 16 + b"0123456789abcdef")
    assert master.derive("csrf") != master.derive("key-encryption")
    assert len(master.derive("csrf")) == 32
    assert "ssss" not in repr(master)
