namespace Jumpgate.Core.Streams;

/// <summary>
/// How this process's sockets finish their waits. By default .NET's epoll thread queues every
/// completion to the thread pool, one thread hop per receive; inline, the continuation runs on
/// the epoll thread itself. For a process that only relays (the agent, `forward`, `proxy`: every
/// step after a wait is a short copy or a non-blocking send) that hop was a quarter to a third of
/// its CPU per new stream (docs/decisions.md, "Inline socket completions"). The gateway keeps the
/// default: its steps include SQLite and the audit, which must not hold up other sockets.
/// </summary>
internal static class SocketCompletions
{
    private const string Variable = "DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS";

    /// <summary>Call before this process opens its first socket; a value the user set already is left as it is.</summary>
    public static void RunInline()
    {
        // .NET reads it once, through its own copy of the environment, when the first socket registers.
        if (Environment.GetEnvironmentVariable(Variable) is null)
        {
            Environment.SetEnvironmentVariable(Variable, "1");
        }
    }
}
