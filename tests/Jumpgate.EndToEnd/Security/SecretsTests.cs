using Jumpgate.TestSupport;
using Xunit;
using Xunit.Abstractions;

namespace Jumpgate.EndToEnd.Security;

/// <summary>Tokens never reach logs, error messages or the gateway's store in clear.</summary>
public sealed class SecretsTests(ITestOutputHelper output)
{
    [Fact]
    public async Task NoTokenAppearsInAnyLogOrInTheStore()
    {
        await using var echo = new EchoServer();
        await using var deployment = await Deployment.StartAsync(output);
        await deployment.AddAgentAsync("lab-a", "node*");
        var agent = await deployment.StartAgentAsync("lab-a", $"""
            node1:
              address: 127.0.0.1
              services:
                echo: {echo.Port}
            """);
        // Exercise success and every kind of refusal, so each log path has run.
        var outputs = new List<string>
        {
            (await deployment.JumpgateAsync("ls")).ToString(),
            (await deployment.JumpgateAsync("proxy", "nosuch", "22")).ToString(),
            (await deployment.JumpgateAsync("forward", "node1:echo", "--local", "not-an-address")).ToString(),
        };
        var tampered = Path.Combine(deployment.ClientHome, "jumpgate", "config.json");
        var text = await File.ReadAllTextAsync(tampered);
        await File.WriteAllTextAsync(tampered, text.Replace(deployment.UserToken[..^3], deployment.UserToken[..^3] + "x", StringComparison.Ordinal));
        outputs.Add((await deployment.JumpgateAsync("proxy", "node1", "echo")).ToString());
        outputs.Add((await deployment.JumpgateAsync("ls")).ToString());

        var logs = string.Join('\n', [deployment.Gateway!.Output, agent.Output, .. outputs]);
        var store = await File.ReadAllBytesAsync(Path.Combine(deployment.GatewayDir, "gateway.db"));
        var storeText = System.Text.Encoding.ASCII.GetString(store);
        Assert.NotEmpty(deployment.Tokens);
        foreach (var token in deployment.Tokens)
        {
            var secret = token[^43..];
            Assert.DoesNotContain(secret, logs);
            Assert.DoesNotContain(secret, storeText);
        }
    }
}
