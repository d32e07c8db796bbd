using System.CommandLine;
using System.CommandLine.Invocation;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Jumpgate.Cli.Install;

/// <summary>
/// What <c>jumpgate --version</c> prints: the version, how this copy was installed, and the git
/// commit the SDK embeds when it builds inside a checkout ("0.1.0 (native linux-x64, commit 1a2b3c4d5e6f)").
/// </summary>
internal static class BuildInfo
{
    public static string Describe()
    {
        var informational = typeof(BuildInfo).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0.0.0";
        var plus = informational.IndexOf('+');
        var version = plus < 0 ? informational : informational[..plus];
        var commit = plus < 0 ? null : informational[(plus + 1)..];
        return commit is null ? $"{version} ({Kind()})" : $"{version} ({Kind()}, commit {commit[..Math.Min(12, commit.Length)]})";
    }

    /// <summary>
    /// A Native AOT binary generates no code; a dotnet tool runs from the tool store's
    /// <c>.store/jumpgate/VERSION/…</c> folder; anything else is a build run by the dotnet host.
    /// </summary>
    private static string Kind() =>
        !RuntimeFeature.IsDynamicCodeSupported ? $"native {RuntimeInformation.RuntimeIdentifier}"
        : AppContext.BaseDirectory.Contains($"{Path.DirectorySeparatorChar}.store{Path.DirectorySeparatorChar}", StringComparison.Ordinal) ? "dotnet tool"
        : "dotnet build";

    /// <summary>Replaces System.CommandLine's own version action, which prints the bare informational version.</summary>
    public static void UseForVersionOption(RootCommand root)
    {
        foreach (var option in root.Options.OfType<VersionOption>())
        {
            option.Action = new PrintVersion();
        }
    }

    private sealed class PrintVersion : SynchronousCommandLineAction
    {
        public override int Invoke(ParseResult parseResult)
        {
            parseResult.InvocationConfiguration.Output.WriteLine(Describe());
            return 0;
        }
    }
}
