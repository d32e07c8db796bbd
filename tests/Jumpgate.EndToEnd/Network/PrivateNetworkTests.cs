using System.Net;
using System.Net.Sockets;
using Jumpgate.TestSupport;
using Xunit;
using Xunit.Abstractions;

namespace Jumpgate.EndToEnd.Network;

/// <summary>The GPU host sits in a network only the agent's machine can reach, as a GPU cluster behind a lab PC.</summary>
public sealed class PrivateNetworkTests(ITestOutputHelper output)
{
    [Fact]
    public async Task SshReachesAHostThatOnlyTheAgentCanReach()
    {
        await using var network = await PrivateNetwork.CreateAsync(output);
        await using var sshd = await Sshd.StartAsync(output, netns: network.Gpu, address: network.GpuAddress);
        await using var deployment = await Deployment.StartAsync(output, listen: $"{network.GatewaySideAddress}:0");
        await deployment.AddAgentAsync("lab-pc", "node*");
        await deployment.StartAgentAsync("lab-pc", $"""
            node1:
              address: {network.GpuAddress}
              services:
                ssh: 22
            """, netns: network.Lab);
        var sshConfig = await deployment.WriteSshConfigAsync(sshd);

        // The user's machine cannot reach the GPU host by itself...
        using var direct = new Socket(SocketType.Stream, ProtocolType.Tcp);
        var refused = await Assert.ThrowsAnyAsync<SocketException>(() => direct.ConnectAsync(IPAddress.Parse(network.GpuAddress), 22).WaitAsync(Signals.Timeout(10)));
        output.WriteLine($"direct connection to {network.GpuAddress}:22 from the user's namespace: {refused.SocketErrorCode}");

        // ...but through the gateway and the agent it can.
        var result = await deployment.SshAsync(sshConfig, "node1.jg", "cat", "/proc/net/fib_trie");

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains(network.GpuAddress, result.Stdout);
    }
}
