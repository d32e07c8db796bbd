using System.Text.Json;
using Jumpgate.TestSupport;
using Xunit;
using Xunit.Abstractions;

namespace Jumpgate.EndToEnd.Access;

/// <summary>Who may reach what: the rules, groups, deny-by-default, and what `jumpgate ls` shows.</summary>
public sealed class AccessRulesTests(ITestOutputHelper output) : IAsyncLifetime
{
    private AccessFixture _fixture = null!;

    public async Task InitializeAsync() => _fixture = await AccessFixture.StartAsync(output);

    public async Task DisposeAsync() => await _fixture.DisposeAsync();

    [Fact]
    public async Task ANewGatewayLetsEveryUserReachEverything()
    {
        var rules = await _fixture.AdminAsync("rules", "--json");
        var rule = Assert.Single(JsonDocument.Parse(rules.Stdout).RootElement.EnumerateArray());
        Assert.Equal("@everyone", rule.GetProperty("subject").GetString());
        Assert.Equal("*", rule.GetProperty("hosts").GetString());
        Assert.Equal(0, rule.GetProperty("services").GetArrayLength());

        await using var stream = await _fixture.ConnectAsync("lab-pc", "echo");
        Assert.True(stream.Ok, stream.Error);
        Assert.Equal("hi"u8.ToArray(), await EchoServer.RoundTripAsync(stream.Stream, "hi"u8.ToArray(), Signals.Timeout(10)));
    }

    [Fact]
    public async Task OnceEveryoneIsRevokedAUserReachesNothingAndIsToldSoWithoutLearningWhichHostsExist()
    {
        await _fixture.AdminAsync("revoke", "@everyone", "*");

        var known = await _fixture.Deployment.JumpgateAsync("proxy", "node1", "echo");
        var unknown = await _fixture.Deployment.JumpgateAsync("proxy", "nosuch", "echo");
        var ls = await _fixture.Deployment.JumpgateAsync("ls", "--json");

        Assert.Equal(1, known.ExitCode);
        Assert.Equal("jumpgate: user researcher may not reach node1:echo", known.Stderr.Trim());
        Assert.Equal("jumpgate: user researcher may not reach nosuch:echo", unknown.Stderr.Trim());
        Assert.Equal(0, ls.ExitCode);
        Assert.Empty(JsonDocument.Parse(ls.Stdout).RootElement.EnumerateArray());
        Assert.Equal(0, _fixture.Echo.Accepted);
    }

    [Fact]
    public async Task AGrantOpensOnlyTheHostsAndServicesItNamesAndLsShowsOnlyThose()
    {
        await _fixture.AdminAsync("revoke", "@everyone", "*");
        await _fixture.AdminAsync("grant", "researcher", "node*", "--service", "echo");

        await using (var allowed = await _fixture.ConnectAsync("node1", "echo"))
        {
            Assert.True(allowed.Ok, allowed.Error);
            Assert.Equal("ok"u8.ToArray(), await EchoServer.RoundTripAsync(allowed.Stream, "ok"u8.ToArray(), Signals.Timeout(10)));
        }
        await using (var otherService = await _fixture.ConnectAsync("node1", "web"))
        {
            Assert.Equal("user researcher may not reach node1:web", otherService.Error);
        }
        await using (var otherHost = await _fixture.ConnectAsync("lab-pc", "echo"))
        {
            Assert.Equal("user researcher may not reach lab-pc:echo", otherHost.Error);
        }
        await using (var missing = await _fixture.ConnectAsync("node1", "postgres"))
        {
            // Whether node1 has postgres is none of the user's business.
            Assert.Equal("user researcher may not reach node1:postgres", missing.Error);
        }
        await _fixture.AdminAsync("grant", "researcher", "node1", "--service", "postgres");
        await using (var missing = await _fixture.ConnectAsync("node1", "postgres"))
        {
            // Now it is; the services the user may not reach are still not named.
            Assert.Equal("host node1 has no service 'postgres' (it has: echo)", missing.Error);
        }
        var ls = await _fixture.Deployment.JumpgateAsync("ls", "--json");
        var host = Assert.Single(JsonDocument.Parse(ls.Stdout).RootElement.EnumerateArray());
        Assert.Equal("node1", host.GetProperty("name").GetString());
        Assert.Equal(["echo"], host.GetProperty("services").EnumerateArray().Select(s => s.GetProperty("name").GetString()));
        Assert.Equal(1, _fixture.Echo.Accepted);
    }

    [Fact]
    public async Task AGroupsRuleAppliesToItsMembersAndToNobodyElse()
    {
        await _fixture.AdminAsync("revoke", "@everyone", "*");
        var alice = (await _fixture.AdminAsync("add-user", "alice", "--group", "students")).Stdout.Trim();
        _fixture.Deployment.Tokens.Add(alice);
        await _fixture.AdminAsync("grant", "@students", "lab-pc", "--service", "echo");

        await using var member = await _fixture.ConnectAsync("lab-pc", "echo", alice);
        await using var outsider = await _fixture.ConnectAsync("lab-pc", "echo");

        Assert.True(member.Ok, member.Error);
        Assert.Equal("user researcher may not reach lab-pc:echo", outsider.Error);
        var users = await _fixture.AdminAsync("users");
        Assert.Contains(users.Stdout.Split('\n'), l => l.StartsWith("alice", StringComparison.Ordinal) && l.Contains("@students", StringComparison.Ordinal));
    }

    [Fact]
    public async Task RevokingOneServiceOfARuleKeepsTheOthers()
    {
        await _fixture.AdminAsync("revoke", "@everyone", "*");
        await _fixture.AdminAsync("grant", "researcher", "node1", "--service", "echo", "--service", "web");
        await _fixture.AdminAsync("revoke", "researcher", "node1", "--service", "web");

        await using var echo = await _fixture.ConnectAsync("node1", "echo");
        await using var web = await _fixture.ConnectAsync("node1", "web");

        Assert.True(echo.Ok, echo.Error);
        Assert.Equal("user researcher may not reach node1:web", web.Error);
        var rules = await _fixture.AdminAsync("rules");
        Assert.Contains(rules.Stdout.Split('\n'), l => l.StartsWith("researcher", StringComparison.Ordinal) && l.TrimEnd().EndsWith("echo", StringComparison.Ordinal));
    }

    [Fact]
    public async Task RevokingARuleThatDoesNotExistFailsAndSaysWhereToLook()
    {
        var result = await _fixture.Deployment.JumpgateAsync("gateway", "revoke", "@nobody", "node*", "--dir", _fixture.Deployment.GatewayDir);

        Assert.Equal(1, result.ExitCode);
        Assert.Equal("jumpgate: there is no rule for @nobody on 'node*' (`jumpgate gateway rules` lists them)", result.Stderr.Trim());
    }
}
