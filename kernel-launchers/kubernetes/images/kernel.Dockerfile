# The kernel image (ATRIUM_K8S_KERNEL_IMAGE): a Python with ipykernel and cryptography, and Atrium's launcher.
# Build from the repository root:  docker build -f kernel-launchers/kubernetes/images/kernel.Dockerfile -t REGISTRY/atrium/kernel:1.0 .
# Add the libraries your analysts use (pandas, matplotlib, ...) here or in an image FROM this one.
# Not built by the test suite (no container engine there): the test cluster runs the same command on the host.
FROM python:3.12-slim
RUN pip install --no-cache-dir ipykernel==6.29.5 cryptography==44.0.0
COPY kernel-launchers/python/launch_kernel.py /opt/atrium/launch_kernel.py
COPY kernel-launchers/python/atrium_launcher /opt/atrium/atrium_launcher
# Pods run as each analyst's own uid (set by Atrium); nothing here needs root.
USER 65534
# ATRIUM_K8S_KERNEL_PYTHON=/usr/local/bin/python  ATRIUM_K8S_LAUNCHER_SCRIPT=/opt/atrium/launch_kernel.py
