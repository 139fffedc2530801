"""Presets: the flag sets that fit the WebSocket chat services surveyed, by name.

Each preset fills only the flags the user did not give. `path` is the URL path the service
serves its socket on (used in docs and when the URL has no path); `setup` names the HTTP
calls some services need before a connection can open (see setup.py).
"""

from __future__ import annotations

from typing import Any

PRESETS: dict[str, dict[str, Any]] = {
    # microsoft/autogen agentchat_fastapi/app_team.py and its derivatives (/ws/chat, /ws/{session}).
    "agentchat-team": {
        "path": "/ws/chat",
        "body": '{"content": "{message}", "source": "user"}',
        "until": ["type=UserInputRequestedEvent"],
        "error": ["type=error"],
        "reply_when": ["type=TextMessage"],
        "reply_skip": ["source=user"],
        "reply_path": "content",
    },
    # AutoGen Studio (`autogenstudio ui`): a run per connection, created over HTTP first.
    "studio": {
        "path": "/api/ws/runs/{run}",
        "setup": "studio",
        "ready": ["type=system"],
        "start": '{"type": "start", "task": "{message}", "files": [], "team_config": {team}}',
        "body": '{"type": "input_response", "response": "{message}"}',
        "until": ["type=input_request"],
        "final": ["type=result", "type=completion"],
        "error": ["type=error", "type=completion,status=error"],
        # Model replies only: the proxy's echo and the llm_call_event prompt dump are skipped.
        "reply_when": ["type=message,data.type=TextMessage,data.models_usage"],
        "reply_skip": ["data.source=user", "data.source=llm_call_event"],
        "reply_path": "data.content",
        "stop": '{"type": "stop", "reason": "autogen-doctor probe"}',
    },
    # FastAgency's FastAPI adapter: the workflow name is read from /fastagency/discovery.
    "fastagency": {
        "path": "/fastagency/ws",
        "setup": "fastagency",
        "start": '{"name": "{workflow}", "workflow_uuid": "{connection}", "user_id": null, "params": {}}',
        "ready": ["type=text_input", "type=multiple_choice"],
        "body_text": "{message}",
        "until": ["type=text_input", "type=multiple_choice"],
        "final": ["type=workflow_completed", "close"],
        "error": ["type=error"],
        "reply_when": ["type=text_message"],
        "reply_path": "content.body",
    },
    # Chainlit over Socket.IO (Engine.IO v4 / Socket.IO v5, websocket transport only).
    "chainlit": {
        "path": "/ws/socket.io/",
        "framing": "socketio",
        "auth": '{"sessionId": "{session}", "clientType": "webapp", "userEnv": "{}", "threadId": "", '
                '"chatProfile": ""}',
        "start": '["connection_successful"]',
        "ready": ["event=task_end"],
        "body": '["client_message", {"message": {"id": "{uuid}", "createdAt": "{now}", "output": "{message}", '
                '"name": "User", "type": "user_message", "threadId": "", "metadata": {}}, "fileReferences": []}]',
        "until": ["event=task_end"],
        "error": ["event=new_message,data.isError=true"],
        "reply_when": ["event=new_message,data.type=assistant_message"],
        "reply_path": "data.output",
    },
    # AG2 IOWebsockets (autogen.io.websockets): printed text frames, input() prompts end a turn.
    "ag2-iostream": {
        "path": "/",
        "body_text": "{message}",
        "until": ["text~Press enter to skip"],
        "join": "",
    },
}


def preset_names() -> str:
    return ", ".join(sorted(PRESETS))
