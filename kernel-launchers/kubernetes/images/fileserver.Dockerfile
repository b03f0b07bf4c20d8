# The home file-server image (ATRIUM_K8S_FILESERVER_IMAGE): any Python 3.8+ and fileserver.py (stdlib only).
# Build from the repository root:  docker build -f kernel-launchers/kubernetes/images/fileserver.Dockerfile -t REGISTRY/atrium/fileserver:1.0 .
FROM python:3.12-slim
COPY kernel-launchers/kubernetes/fileserver.py /opt/atrium/fileserver.py
USER 65534
# ATRIUM_K8S_FILESERVER_PYTHON=/usr/local/bin/python  ATRIUM_K8S_FILESERVER_SCRIPT=/opt/atrium/fileserver.py
