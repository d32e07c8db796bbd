using Xunit.Abstractions;

namespace Jumpgate.TestSupport;

/// <summary>The `ip` commands the tests' network-namespace topologies are made of.</summary>
public sealed class IpCommands(ITestOutputHelper? output)
{
    /// <summary>Runs `ip` with <paramref name="arguments"/>; a failure throws with its message.</summary>
    public async Task RunAsync(params string[] arguments)
    {
        var result = await Command.RunAsync("ip", arguments, TimeSpan.FromSeconds(30), output: output);
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException($"ip {string.Join(' ', arguments)} failed (network namespaces need root): {result.Stderr}");
        }
    }

    /// <summary>
    /// A veth pair from namespace <paramref name="near"/> (null: this machine) to namespace
    /// <paramref name="far"/>, each end with its /30 address and up, and <paramref name="far"/>'s loopback up.
    /// </summary>
    public async Task LinkAsync(string? near, string nearDevice, string nearAddress, string far, string farDevice, string farAddress)
    {
        await RunAsync("link", "add", nearDevice, "type", "veth", "peer", "name", farDevice);
        if (near is not null)
        {
            await RunAsync("link", "set", nearDevice, "netns", near);
        }
        await RunAsync("link", "set", farDevice, "netns", far);
        string[] inNear = near is null ? [] : ["-n", near];
        await RunAsync([.. inNear, "addr", "add", nearAddress + "/30", "dev", nearDevice]);
        await RunAsync([.. inNear, "link", "set", nearDevice, "up"]);
        await RunAsync("-n", far, "addr", "add", farAddress + "/30", "dev", farDevice);
        await RunAsync("-n", far, "link", "set", farDevice, "up");
        await RunAsync("-n", far, "link", "set", "lo", "up");
    }

    /// <summary>Runs `ip` for clean-up: a failure (already gone) is not an error.</summary>
    public static async Task TryAsync(params string[] arguments) => await Command.RunAsync("ip", arguments, TimeSpan.FromSeconds(30));
}
