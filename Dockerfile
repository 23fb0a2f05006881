# One image for every Clickpulse service; docker-compose.yml picks the subcommand.
FROM python:3.11-slim
WORKDIR /app
COPY requirements.lock pyproject.toml README.md ./
RUN pip install --no-cache-dir --require-hashes -r requirements.lock
COPY . .
RUN pip install --no-cache-dir --no-deps -e .
ENTRYPOINT ["clickpulse"]
