"""A simulation's output reduced to what people see, to tell whether a change altered behaviour.

Each email's headers and decoded parts, each calendar file and each action line are kept, less what
varies by design (reply tokens signed with a secret made at random per state directory) or by
version (PRODID). `fingerprint_hashes` reduces that to one short hash per file, small enough to keep
in the repository.

Record anew only when a change of behaviour is intended, and say so in the commit:
    python -m tests.support.simulation_fingerprint SIMULATION_DIR > tests/fixtures/simulation/example-12-weeks.json
"""

from __future__ import annotations

import email
import email.policy
import hashlib
import json
import re
import sys
from pathlib import Path
from typing import Any

_TOKEN = re.compile(r"\+[a-z2-7]{20,}@")
_VERSIONED = re.compile(r"^(PRODID|X-Mailer|User-Agent):.*$", re.MULTILINE | re.IGNORECASE)


def _normal(text: str) -> str:
    return _VERSIONED.sub(r"\1: (version)", _TOKEN.sub("+TOKEN@", text))


def _email(raw: bytes) -> dict[str, Any]:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    # MIME boundaries and transfer encodings are how, not what: the decoded parts carry the content.
    headers = [[name, _normal(str(value))] for name, value in message.items()
               if name.lower() not in {"content-type", "mime-version", "content-transfer-encoding"}]
    parts = []
    for part in message.walk():
        if part.is_multipart():
            continue
        payload = part.get_payload(decode=True) or b""
        if part.get_content_maintype() == "text":
            parts.append([part.get_content_type(), _normal(payload.decode(part.get_content_charset() or "utf-8",
                                                                          "replace"))])
        else:
            parts.append([part.get_content_type(), hashlib.sha256(payload).hexdigest()])
    return {"headers": headers, "parts": parts}


def fingerprint(out_dir: Path) -> dict[str, Any]:
    """Everything a simulation in `out_dir` wrote that people see, normalised."""
    return {
        "mail": {path.name: _email(path.read_bytes()) for path in sorted((out_dir / "mail").glob("*.eml"))},
        "calendar": {path.name: _normal(path.read_text("utf-8"))
                     for path in sorted((out_dir / "calendar").glob("*.ics"))},
        "actions": [_normal(line) for line in (out_dir / "actions.jsonl").read_text("utf-8").splitlines()],
    }


def _digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:16]


def fingerprint_hashes(out_dir: Path) -> dict[str, Any]:
    """One hash per email and calendar file, and one for the action log."""
    seen = fingerprint(out_dir)
    return {
        "mail": {name: _digest(value) for name, value in seen["mail"].items()},
        "calendar": {name: _digest(value) for name, value in seen["calendar"].items()},
        "actions": _digest(seen["actions"]),
        "action_count": len(seen["actions"]),
    }


if __name__ == "__main__":
    json.dump(fingerprint_hashes(Path(sys.argv[1])), sys.stdout, indent=0, sort_keys=True)
    sys.stdout.write("\n")
