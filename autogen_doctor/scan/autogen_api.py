"""What autogen-doctor knows about AutoGen's classes, for both import roots.

Classic API: `autogen` / `ag2` (AutoGen 0.2 and AG2). AgentChat/Core (0.4+): `autogen_agentchat`,
`autogen_core`, `autogen_ext`. Names are matched by their last part once the import root is
known, so `autogen.agentchat.assistant_agent.AssistantAgent` and `autogen.AssistantAgent` are
the same class. Facts come from ../shared/AUTOGEN.md, checked against autogen-agentchat 0.7.5.
"""

from __future__ import annotations

CLASSIC_ROOTS = frozenset({"autogen", "ag2", "pyautogen"})
MODERN_ROOTS = frozenset({"autogen_agentchat", "autogen_core", "autogen_ext"})

AGENT = "agent"
TEAM = "team"  # AgentChat teams and classic GroupChat / GroupChatManager
RUNTIME = "runtime"
MEMORY = "memory"
MODEL_CONTEXT = "model context"

_CLASSIC = {
    "ConversableAgent": AGENT, "AssistantAgent": AGENT, "UserProxyAgent": AGENT,
    "GPTAssistantAgent": AGENT, "RetrieveAssistantAgent": AGENT, "RetrieveUserProxyAgent": AGENT,
    "MultimodalConversableAgent": AGENT, "CompressibleAgent": AGENT, "SocietyOfMindAgent": AGENT,
    "CaptainAgent": AGENT, "ReasoningAgent": AGENT, "SwarmAgent": AGENT, "LLaVAAgent": AGENT,
    "WebSurferAgent": AGENT, "TextAnalyzerAgent": AGENT, "MathUserProxyAgent": AGENT,
    "GroupChat": TEAM, "GroupChatManager": TEAM,
    # AG2 group chat patterns (run with initiate_group_chat / run_group_chat)
    "AutoPattern": TEAM, "DefaultPattern": TEAM, "RoundRobinPattern": TEAM, "RandomPattern": TEAM,
    "ManualPattern": TEAM,
    "Teachability": MEMORY,
}
_MODERN = {
    "AssistantAgent": AGENT, "UserProxyAgent": AGENT, "CodeExecutorAgent": AGENT,
    "SocietyOfMindAgent": AGENT, "MessageFilterAgent": AGENT, "BaseChatAgent": AGENT,
    "FileSurfer": AGENT, "MultimodalWebSurfer": AGENT, "OpenAIAssistantAgent": AGENT,
    "OpenAIAgent": AGENT, "VideoSurfer": AGENT, "MagenticOne": TEAM, "AzureAIAgent": AGENT,
    "RoundRobinGroupChat": TEAM, "SelectorGroupChat": TEAM, "Swarm": TEAM,
    "MagenticOneGroupChat": TEAM, "GraphFlow": TEAM, "BaseGroupChat": TEAM,
    "SingleThreadedAgentRuntime": RUNTIME,
    "ListMemory": MEMORY, "ChromaDBVectorMemory": MEMORY, "Mem0Memory": MEMORY,
    "RedisMemory": MEMORY, "TextCanvasMemory": MEMORY, "TaskCentricMemoryController": MEMORY,
    "UnboundedChatCompletionContext": MODEL_CONTEXT, "BufferedChatCompletionContext": MODEL_CONTEXT,
    "HeadAndTailChatCompletionContext": MODEL_CONTEXT, "TokenLimitedChatCompletionContext": MODEL_CONTEXT,
}

# Agents whose save_state() keeps none of their conversation (inherited empty BaseChatAgent.save_state).
NO_HISTORY_STATE = frozenset({"CodeExecutorAgent", "FileSurfer", "MultimodalWebSurfer"})

# Methods that run an agent, team or group chat on a task (both APIs).
RUN_METHODS = frozenset({
    "run", "run_stream", "on_messages", "on_messages_stream", "initiate_chat", "a_initiate_chat",
    "initiate_chats", "a_initiate_chats", "generate_reply", "a_generate_reply", "run_chat",
    "a_run_chat", "initiate_swarm_chat", "initiate_group_chat", "a_initiate_group_chat",
    "run_group_chat", "a_run_group_chat", "send_message", "publish_message",
})
# Module-level functions of the classic API that run a chat (AG2 patterns and swarms).
RUN_FUNCTIONS = frozenset({"initiate_swarm_chat", "initiate_group_chat", "a_initiate_group_chat",
                           "run_group_chat", "a_run_group_chat", "a_initiate_swarm_chat"})

# LLM response caches: allowed to vanish, never conversation state.
RESPONSE_CACHES = frozenset({"Cache", "DiskCacheStore", "RedisStore", "ChatCompletionCache"})


def root_of(canonical: str) -> str:
    return canonical.split(".", 1)[0]


def is_autogen(canonical: str) -> bool:
    root = root_of(canonical)
    return root in CLASSIC_ROOTS or root in MODERN_ROOTS


def api_of(canonical: str) -> str | None:
    """'classic', 'agentchat' or None for a canonical dotted name."""
    root = root_of(canonical)
    if root in CLASSIC_ROOTS:
        return "classic"
    if root in MODERN_ROOTS:
        return "agentchat"
    return None


def category(canonical: str) -> str | None:
    """AGENT, TEAM, RUNTIME, MEMORY, MODEL_CONTEXT or None for a canonical class name."""
    api = api_of(canonical)
    if api is None or "." not in canonical:
        return None
    last = canonical.rsplit(".", 1)[1]
    table = _CLASSIC if api == "classic" else _MODERN
    return table.get(last)


def class_name(canonical: str) -> str:
    return canonical.rsplit(".", 1)[-1]
