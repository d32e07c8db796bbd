namespace Jumpgate.Core.Streams;

/// <summary>
/// How this process's sockets finish their waits. By default .NET's epoll thread queues every
/// completion to the thread pool, one thread hop per receive; inline, the continuation runs on
/// the epoll thread itself. For a process that only relays (the agent, `forward`, `proxy`: every
/// step after a wait is a short copy or a non-blocking send) that hop was a quarter to a third of
/// its CPU per new stream (docs/decisions.md, "Inline socket completions"). Every other process
/// must keep the default: the gateway's steps include the store, and a synchronous read from
/// PostgreSQL on the epoll thread waits for that same thread, which stops every socket of the process.
/// The setting is an environment variable that .NET reads once, when the first socket registers,
/// and that child processes inherit: so each process sets it for itself at start.
/// </summary>
internal static class SocketCompletions
{
    private const string Variable = "DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS";

    /// <summary>How many epoll threads .NET runs (with inline completions, one per core by default).</summary>
    private const string EngineCountVariable = "DOTNET_SYSTEM_NET_SOCKETS_THREAD_COUNT";

    /// <summary>For a process that only relays; called before it opens its first socket.</summary>
    private static void RunInline() => Environment.SetEnvironmentVariable(Variable, "1");

    /// <summary>
    /// For the agent, `forward` and `proxy`, which only relay: inline, on one epoll thread per two
    /// cores rather than one per core, so that a stream's two sockets and several streams' events
    /// share a thread's wake-ups: on 2 cores (one thread, as nginx's relay has one worker), HTTP
    /// through the agent cost it 12 % less CPU per request, and a new connection through `forward`
    /// took 0.84 × `ssh -J`'s p50 instead of 0.95–1.03 × (docs/decisions.md, "Inline socket
    /// completions"). An operator's own setting is kept.
    /// </summary>
    public static void RunInlineOnFewerThreads()
    {
        RunInline();
        if (Environment.GetEnvironmentVariable(EngineCountVariable) is null)
        {
            Environment.SetEnvironmentVariable(EngineCountVariable, Math.Max(1, Environment.ProcessorCount / 2).ToString(System.Globalization.CultureInfo.InvariantCulture));
        }
    }

    /// <summary>
    /// .NET's default, whatever the parent process had (an agent or `forward` that started this
    /// one passes its own setting down); called first thing in every jumpgate process.
    /// </summary>
    public static void OnThreadPool() => Environment.SetEnvironmentVariable(Variable, null);
}
