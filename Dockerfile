# relctl's container image: the controller, installed from its wheel, run as a non-root
# user on a read-only root filesystem (the chart mounts /var/lib/relctl and /tmp).
#
#   docker build -t relctl/relctl:0.1.0 .
#
# Pin the base images by digest in your registry mirror; the tags below are exact
# releases, so a rebuild picks up only that release's security rebuilds.

FROM python:3.11.7-slim-bookworm AS build
WORKDIR /src
RUN python -m pip install --no-cache-dir --upgrade pip build==1.2.2
COPY pyproject.toml README.md ./
COPY controller ./controller
RUN python -m build --wheel --outdir /dist

FROM python:3.11.7-slim-bookworm
# git: the controller clones the manifests repository and commits its decisions;
# openssh-client and gnupg: git verifies approvals' SSH and GPG signatures with them.
RUN apt-get update \
    && apt-get install -y --no-install-recommends git ca-certificates openssh-client gnupg \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --gid 10001 relctl \
    && useradd --uid 10001 --gid 10001 --home-dir /tmp --no-create-home --shell /usr/sbin/nologin relctl
COPY requirements/runtime.txt /tmp/runtime.txt
# The dependencies at the locked versions and hashes, then relctl's wheel without resolving.
RUN python -m pip install --no-cache-dir --require-hashes --no-deps -r /tmp/runtime.txt
COPY --from=build /dist/*.whl /tmp/wheels/
RUN python -m pip install --no-cache-dir --no-deps /tmp/wheels/*.whl \
    && python -m pip check && rm -rf /tmp/wheels /tmp/runtime.txt
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp
USER 10001:10001
WORKDIR /var/lib/relctl
EXPOSE 8080
ENTRYPOINT ["relctl"]
CMD ["controller", "--listen", "0.0.0.0:8080"]
