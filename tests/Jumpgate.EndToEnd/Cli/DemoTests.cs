using System.Net;
using System.Net.Sockets;
using Jumpgate.TestSupport;
using Xunit;
using Xunit.Abstractions;

namespace Jumpgate.EndToEnd.Cli;

/// <summary>`jumpgate demo` as the README tells a newcomer to run it.</summary>
public sealed class DemoTests(ITestOutputHelper output)
{
    [Fact]
    public async Task PrintsAnSshLineThatLogsInThroughTheGatewayAndStopsItsSshdOnCtrlC()
    {
        using var dir = new TempDirectory("jg-demo");
        await using var demo = ChildProcess.Start("demo", TestSupport.Jumpgate.Executable, ["demo", "--dir", dir.Path, "--listen", "127.0.0.1:0", "--local", "127.0.0.1:0"], output);
        var sshd = await demo.WaitForLineAsync(@"a throw-away sshd on 127\.0\.0\.1:(\d+)", Signals.Timeout(120));
        var line = await demo.WaitForLineAsync(@"^\s*ssh -F (\S+) demo\.jg", Signals.Timeout(60));

        var ssh = await Command.RunAsync("ssh", ["-F", line.Groups[1].Value, "-o", "BatchMode=yes", "demo.jg", "echo", "through-the-gateway"], Signals.Timeout(60), output: output);

        Assert.True(ssh.ExitCode == 0, ssh.ToString());
        Assert.Equal("through-the-gateway", ssh.Stdout.Trim());

        demo.Signal(ChildProcess.SIGINT);
        await demo.Exited.WaitAsync(Signals.Timeout(60));
        using var probe = new Socket(SocketType.Stream, ProtocolType.Tcp);
        var refused = await Assert.ThrowsAsync<SocketException>(() => probe.ConnectAsync(new IPEndPoint(IPAddress.Loopback, int.Parse(sshd.Groups[1].Value))));
        Assert.Equal(SocketError.ConnectionRefused, refused.SocketErrorCode);
    }
}
