"""Exact pins of the real targets' venvs: plain data, so that prebuild.py can read them
before anything but the standard library is installed."""

# Exact pins: the sample's frames were checked on these (docs/targets/chainlit.md); 2.12.0 restores a
# session on a reconnect to the same process (the 2.11.1 guard), which the verdicts rely on.
# pyyaml: the sample reads its model_config.yaml with it (its README installs it too).
# redis: the fixed app keeps its state with the project's fix kit (autogen_doctor.persist).
CHAINLIT_REQUIREMENTS = ["chainlit==2.12.0", "autogen-agentchat==0.7.5", "autogen-ext==0.7.5", "pyyaml==6.0.4",
                         "redis==8.1.0"]

# FastAgency 0.10.2 pins ag2 0.10.2, and its [fastapi] extra websockets<14 (a clash with the
# project's websockets>=15: hence its own venv). uvicorn is not in the extra. sniffio: asyncer
# 0.0.8 (from the extra) imports it without declaring it, and current anyio no longer brings it.
FASTAGENCY_REQUIREMENTS = ["fastagency[fastapi]==0.10.2", "ag2==0.10.2", "websockets<14", "uvicorn==0.55.0",
                           "sniffio==1.3.1"]
