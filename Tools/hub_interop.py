#!/usr/bin/env python3
"""Cache interoperability between Python's huggingface_hub and mgm's MGHub (Tests/MGHubTests).

Talks only to the loopback Hub server the Swift test starts (HF_ENDPOINT must be a 127.0.0.1 or
localhost URL; anything else is refused), and reads or writes the cache folder it is given.

  hub_interop.py download REPO CACHE          snapshot_download into CACHE; prints JSON {"folder": ...}
  hub_interop.py read-offline REPO CACHE      HF_HUB_OFFLINE=1: snapshot_download(local_files_only) and
                                              hf_hub_download of every file, scan_cache_dir; prints JSON
                                              {"folder", "files": {name: sha256}, "warnings", "repos"}
"""

import hashlib
import json
import os
import sys
from urllib.parse import urlparse


def main() -> int:
    if len(sys.argv) != 4 or sys.argv[1] not in ("download", "read-offline"):
        print(__doc__, file=sys.stderr)
        return 2
    mode, repo, cache = sys.argv[1:]
    endpoint = os.environ.get("HF_ENDPOINT", "")
    if urlparse(endpoint).hostname not in ("127.0.0.1", "localhost"):
        print(f"refusing to run against HF_ENDPOINT={endpoint!r}: loopback test servers only", file=sys.stderr)
        return 2
    if mode == "read-offline":
        os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
    os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
    # Imported after the environment is set: huggingface_hub reads it at import time.
    import huggingface_hub
    from huggingface_hub import hf_hub_download, scan_cache_dir, snapshot_download

    if mode == "download":
        folder = snapshot_download(repo, cache_dir=cache)
        print(json.dumps({"folder": folder, "version": huggingface_hub.__version__}))
        return 0

    folder = snapshot_download(repo, cache_dir=cache, local_files_only=True)
    files = {}
    for name in sorted(os.listdir(folder)):
        path = hf_hub_download(repo, name, cache_dir=cache, local_files_only=True)
        with open(path, "rb") as handle:
            files[name] = hashlib.sha256(handle.read()).hexdigest()
    info = scan_cache_dir(cache)
    repos = {
        r.repo_id: {"files": sorted(f.file_name for rev in r.revisions for f in rev.files), "refs": sorted(r.refs)}
        for r in info.repos
    }
    print(json.dumps({
        "folder": folder, "files": files, "warnings": [str(w) for w in info.warnings], "repos": repos,
        "version": huggingface_hub.__version__,
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
