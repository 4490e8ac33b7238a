# Digital Greenhouse in a container (arm64 and amd64: python:3.11-slim has both).
#   docker build -t greenhouse .
#   docker run -p 8000:8000 -p 8765:8765 -v greenhouse-data:/data --env-file .env greenhouse
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    GREENHOUSE_DB=/data/greenhouse.db \
    GREENHOUSE_HOST=0.0.0.0

RUN useradd --system --create-home --home-dir /home/greenhouse greenhouse \
    && mkdir -p /data && chown greenhouse:greenhouse /data

WORKDIR /app
COPY pyproject.toml README.md run.py ./
COPY greenhouse ./greenhouse
COPY actors ./actors
RUN pip install .

USER greenhouse
VOLUME ["/data"]
EXPOSE 8000 8765
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s \
    CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4).status == 200 else 1)"
CMD ["python", "run.py"]
