# The arbiter's image: `arbiter worker` by default, any other `arbiter` command as the command.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
# Only what the package needs: the checkout may hold a venv and local Kafka data.
COPY pyproject.toml README.md ./
COPY streams ./streams
COPY rules ./rules
RUN pip install . && useradd --create-home --uid 10001 arbiter

USER arbiter
CMD ["arbiter", "worker"]
