using System.CommandLine;

namespace Jumpgate.Cli.Commands;

/// <summary>Options more than one command shares.</summary>
internal static class Options
{
    public static Option<string> Dir() => new("--dir")
    {
        Description = "The gateway's directory (gateway.yaml, certificate, store)",
        DefaultValueFactory = _ => ".",
    };

    public static Option<bool> Json() => new("--json") { Description = "Machine-readable output on stdout" };

    public static Option<bool> Verbose() => new("--verbose", "-v") { Description = "Log every stream, not only connections and failures" };

    /// <summary>Help text for a command: what it does, then an example, as every command's --help shows one.</summary>
    public static string Describe(string what, params string[] examples) =>
        what + Environment.NewLine + Environment.NewLine + "Example:" + Environment.NewLine + string.Join(Environment.NewLine, examples.Select(e => "  " + e));
}
