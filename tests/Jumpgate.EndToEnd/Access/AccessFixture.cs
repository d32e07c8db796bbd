using Jumpgate.TestSupport;
using Xunit.Abstractions;

namespace Jumpgate.EndToEnd.Access;

/// <summary>
/// A gateway with one agent, lab-a, serving node1 (services echo and web) and lab-pc (echo), all
/// answered by one echo server; and the admin commands run against the gateway's directory.
/// </summary>
public sealed class AccessFixture : IAsyncDisposable
{
    private AccessFixture(Deployment deployment, EchoServer echo)
    {
        Deployment = deployment;
        Echo = echo;
    }

    public Deployment Deployment { get; }

    public EchoServer Echo { get; }

    /// <summary>
    /// Logs the user in, with a client configuration of its own in <paramref name="home"/>, at the gateway as
    /// reached on <paramref name="port"/> of loopback (a relay in front of it); returns the environment that
    /// makes `jumpgate` use that login.
    /// </summary>
    public async Task<IReadOnlyDictionary<string, string>> LoginThroughAsync(int port, TempDirectory home, ITestOutputHelper output)
    {
        var environment = new Dictionary<string, string> { ["XDG_CONFIG_HOME"] = home.Path };
        var login = await Command.RunAsync(TestSupport.Jumpgate.Executable,
            ["login", $"https://127.0.0.1:{port}", "--token", Deployment.UserToken, "--fingerprint", Deployment.Fingerprint],
            Signals.Timeout(60), environment, output: output);
        Xunit.Assert.True(login.ExitCode == 0, login.ToString());
        return environment;
    }

    public static async Task<AccessFixture> StartAsync(ITestOutputHelper output, string? gatewayYaml = null)
    {
        var echo = new EchoServer();
        var deployment = await Deployment.StartAsync(output, gatewayYaml: gatewayYaml);
        await deployment.AddAgentAsync("lab-a", "node*,lab-pc");
        await deployment.StartAgentAsync("lab-a", $"""
            node1:
              address: 127.0.0.1
              services:
                echo:
                  port: {echo.Port}
                  # unchecked: these tests count the connections that reach the echo server, and a health check's connect is one
                  health: off
                web:
                  port: {echo.Port}
                  health: off
            lab-pc:
              address: 127.0.0.1
              services:
                echo:
                  port: {echo.Port}
                  health: off
            """);
        return new AccessFixture(deployment, echo);
    }

    /// <summary>Runs `jumpgate gateway ARGS --dir GW` and insists it succeeds.</summary>
    public async Task<CommandResult> AdminAsync(params string[] arguments)
    {
        var result = await Deployment.JumpgateAsync(["gateway", .. arguments, "--dir", Deployment.GatewayDir]);
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException($"`jumpgate gateway {string.Join(' ', arguments)}` failed: {result}");
        }
        return result;
    }

    /// <summary>Opens a stream to <paramref name="host"/>:<paramref name="service"/> with <paramref name="token"/> (the logged-in user's by default).</summary>
    public Task<TunnelClient> ConnectAsync(string host, string service, string? token = null, string source = "127.0.0.1") =>
        TunnelClient.ConnectAsync(Deployment.GatewayUrl, token ?? Deployment.UserToken, host, service, Signals.Timeout(30), source);

    /// <summary>The public id inside a token: jgu_ID_SECRET.</summary>
    public static string TokenId(string token) => token.Split('_')[1];

    public async ValueTask DisposeAsync()
    {
        await Deployment.DisposeAsync();
        await Echo.DisposeAsync();
    }
}
