"""Run one benchmark app under uvicorn (uvloop, httptools, no access log).

python benchmarks/serve.py authward --port 8101
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import uvicorn

sys.path.insert(0, str(Path(__file__).resolve().parent))

APPS = {
    "authward-library": "apps:library_app",
    "authward-readme": "apps:readme_app",
    "authward-service": "apps:service_app",
    "fastapi-users-jwt": "peers:jwt_app",
    "fastapi-users-db": "peers:database_app",
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("app", choices=sorted(APPS))
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    uvicorn.run(
        APPS[args.app],
        factory=True,
        host="127.0.0.1",
        port=args.port,
        workers=args.workers,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_level="warning",
        server_header=False,
    )


if __name__ == "__main__":
    main()
