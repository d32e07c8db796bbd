using System.Net.Sockets;
using System.Text.Json;
using Jumpgate.TestSupport;
using Xunit.Abstractions;

namespace Jumpgate.EndToEnd.Http;

/// <summary>
/// A gateway with agent lab-a serving node1's `echo` (TCP) and `web` (HTTP), an admin named root
/// logged in beside researcher, and as many more users as the tests ask for, each with a client
/// configuration of their own, as separate people on separate laptops would have.
/// </summary>
public sealed class DashboardFixture : IAsyncDisposable
{
    private readonly List<IAsyncDisposable> _owned = [];

    private DashboardFixture(Deployment deployment, EchoServer echo, HttpUpstream web)
    {
        Deployment = deployment;
        Echo = echo;
        Web = web;
    }

    public Deployment Deployment { get; }

    public EchoServer Echo { get; }

    public HttpUpstream Web { get; }

    public string CertificatePath => Path.Combine(Deployment.GatewayDir, "gateway.crt");

    public static async Task<DashboardFixture> StartAsync(ITestOutputHelper output)
    {
        var echo = new EchoServer();
        var web = await HttpUpstream.StartAsync();
        var deployment = await Deployment.StartAsync(output);
        var fixture = new DashboardFixture(deployment, echo, web);
        await deployment.StartAgentAsync("lab-a", $$"""
            node1:
              address: 127.0.0.1
              services:
                echo: { port: {{echo.Port}} }
                web: { port: {{web.Port}}, http: true }
            """);
        var admin = await Check(deployment.JumpgateAsync("gateway", "add-admin", "root", "--dir", deployment.GatewayDir));
        deployment.Tokens.Add(admin.Stdout.Trim());
        await Check(Command.RunAsync(TestSupport.Jumpgate.Executable,
            ["admin", "login", deployment.GatewayUrl, "--token", "-", "--fingerprint", deployment.Fingerprint],
            Signals.Timeout(60), deployment.ClientEnvironment, stdin: admin.Stdout, output: output));
        return fixture;
    }

    /// <summary>Adds a user and logs them in with a client configuration of their own; returns that configuration's environment.</summary>
    public async Task<IReadOnlyDictionary<string, string>> AddUserAsync(string name)
    {
        var token = await Deployment.AddUserAsync(name);
        var home = Deployment.Dir.File($"client-{name}");
        Directory.CreateDirectory(home);
        var environment = new Dictionary<string, string> { ["XDG_CONFIG_HOME"] = home };
        await Check(Command.RunAsync(TestSupport.Jumpgate.Executable,
            ["login", Deployment.GatewayUrl, "--token", "-", "--fingerprint", Deployment.Fingerprint], Signals.Timeout(60), environment, stdin: token));
        return environment;
    }

    /// <summary>`jumpgate open --dashboard --json` (with <c>--admin</c>, as root) in a client's environment: the one-time link.</summary>
    public async Task<Uri> DashboardLinkAsync(IReadOnlyDictionary<string, string> client, bool admin = false)
    {
        var result = await Check(Command.RunAsync(TestSupport.Jumpgate.Executable,
            ["open", "--dashboard", "--json", .. admin ? new[] { "--admin" } : []], Signals.Timeout(60), client));
        using var json = JsonDocument.Parse(result.Stdout);
        return new Uri(json.RootElement.GetProperty("sign_in_url").GetString()!);
    }

    /// <summary>
    /// Starts `jumpgate forward node1:echo` as the client and opens one stream through it that has
    /// carried a round trip; disposing the fixture stops the forward.
    /// </summary>
    public async Task<TcpClient> OpenStreamAsync(IReadOnlyDictionary<string, string> client, ITestOutputHelper output, string name)
    {
        var forward = ChildProcess.Start($"forward {name}", TestSupport.Jumpgate.Executable, ["forward", "node1:echo", "--local", "127.0.0.1:0"], output, client);
        _owned.Add(forward);
        var bound = System.Net.IPEndPoint.Parse((await forward.WaitForLineAsync(@"forwarding (\S+) ->", Signals.Timeout(30))).Groups[1].Value);
        var stream = new TcpClient();
        await stream.ConnectAsync(bound);
        var hello = System.Text.Encoding.ASCII.GetBytes($"hello from {name}");
        if (!(await EchoServer.RoundTripAsync(stream.GetStream(), hello, Signals.Timeout(15))).AsSpan().SequenceEqual(hello))
        {
            throw new InvalidOperationException($"{name}'s stream did not echo");
        }
        return stream;
    }

    private static async Task<CommandResult> Check(Task<CommandResult> command)
    {
        var result = await command;
        return result.ExitCode == 0 ? result : throw new InvalidOperationException(result.ToString());
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var owned in _owned)
        {
            await owned.DisposeAsync();
        }
        await Deployment.DisposeAsync();
        await Echo.DisposeAsync();
        await Web.DisposeAsync();
    }
}
