"""The command line as a whole: optional parts of the install."""

import sys

from femtospin.acquisition import main


def test_serve_without_the_queue_extra_says_how_to_install_it(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "bluesky_queueserver_api", None)  # as if not installed
    code = main(["serve", "--profile", "sim:fast", "--data-dir", str(tmp_path / "d")])
    err = capsys.readouterr().err
    assert code == 2
    assert err.strip() == ("error: `femtospin serve` needs the queue extra (bluesky_queueserver_api not installed): "
                           "pip install 'femtospin[queue]'")
    assert not (tmp_path / "d").exists()
