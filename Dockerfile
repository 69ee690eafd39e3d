# The arbiter's image: `arbiter worker` by default, any other `arbiter` command as the command.
# The build stage compiles the per-event modules (setup.py); the image gets the wheel only.
FROM python:3.11-slim AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Only what the package needs: the checkout may hold a venv, local Kafka data and compiled
# files of its own (.dockerignore).
COPY pyproject.toml setup.py README.md ./
COPY streams ./streams
COPY rules ./rules
RUN pip wheel --no-deps --wheel-dir /wheels .

FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

COPY --from=build /wheels /wheels
RUN pip install /wheels/*.whl && rm -rf /wheels && useradd --create-home --uid 10001 arbiter

USER arbiter
CMD ["arbiter", "worker"]
