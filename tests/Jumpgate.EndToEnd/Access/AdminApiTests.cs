using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Jumpgate.TestSupport;
using Xunit;
using Xunit.Abstractions;

namespace Jumpgate.EndToEnd.Access;

/// <summary>
/// The admin API: an admin token manages the gateway from another machine through
/// `jumpgate admin login` and `--remote`, with real effects on users; no other credential
/// reaches any admin endpoint or learns anything from trying.
/// </summary>
public sealed class AdminApiTests(ITestOutputHelper output) : IAsyncLifetime
{
    /// <summary>Every admin endpoint, with a body where it takes one, so a refusal cannot be a 400 or 404 in disguise.</summary>
    private static readonly (string Method, string Path, string? Body)[] Endpoints =
    [
        ("GET", "whoami", null),
        ("GET", "users", null), ("GET", "agents", null), ("GET", "admins", null),
        ("POST", "users", """{"name":"mallory"}"""), ("POST", "agents", """{"name":"evil","hosts":"*"}"""), ("POST", "admins", """{"name":"mallory"}"""),
        ("POST", "users/researcher/disable", null), ("POST", "users/researcher/enable", null),
        ("POST", "agents/lab-a/disable", null), ("POST", "admins/boss/disable", null),
        ("POST", "users/researcher/groups/add", """{"groups":["admins"]}"""), ("POST", "users/researcher/groups/remove", """{"groups":["x"]}"""),
        ("GET", "tokens", null), ("POST", "tokens", """{"kind":"admin","name":"boss"}"""), ("POST", "tokens/000000000000/revoke", null),
        ("GET", "rules", null), ("POST", "rules/grant", """{"subject":"@everyone","hosts":"*"}"""), ("POST", "rules/revoke", """{"subject":"@everyone","hosts":"*"}"""),
        ("GET", "audit?since=1h", null),
        ("GET", "no-such-endpoint", null),
    ];

    private AccessFixture _fixture = null!;

    public async Task InitializeAsync() => _fixture = await AccessFixture.StartAsync(output);

    public async Task DisposeAsync() => await _fixture.DisposeAsync();

    [Fact]
    public async Task AnAdminGrantsAndRevokesRemotelyAndUsersFeelItAtOnce()
    {
        await LoginAdminAsync("boss");
        var deployment = _fixture.Deployment;

        await RemoteAsync("revoke", "@everyone", "*");
        var none = await deployment.JumpgateAsync("ls", "--json");
        Assert.Equal("[]", none.Stdout.Trim());
        await using (var denied = await _fixture.ConnectAsync("node1", "echo"))
        {
            Assert.Equal("user researcher may not reach node1:echo", denied.Error);
        }

        await RemoteAsync("grant", "researcher", "node1", "--service", "echo");
        var ls = JsonDocument.Parse((await deployment.JumpgateAsync("ls", "--json")).Stdout).RootElement;
        var host = Assert.Single(ls.EnumerateArray());
        Assert.Equal("node1", host.GetProperty("name").GetString());
        Assert.Equal(["echo"], host.GetProperty("services").EnumerateArray().Select(s => s.GetProperty("name").GetString()));
        await using var stream = await _fixture.ConnectAsync("node1", "echo");
        Assert.True(stream.Ok, stream.Error);
        Assert.Equal("hi"u8.ToArray(), await EchoServer.RoundTripAsync(stream.Stream, "hi"u8.ToArray(), Signals.Timeout(10)));

        await RemoteAsync("revoke", "researcher", "node1");
        Assert.True(await stream.WaitClosedAsync(Signals.Timeout(15)), "the stream stayed open after the admin revoked its rule remotely");

        // The rest of the admin surface, remotely: a user with a group, a token, the lists.
        var carol = (await RemoteAsync("add-user", "carol", "--group", "students")).Stdout.Trim();
        deployment.Tokens.Add(carol);
        Assert.StartsWith("jgu_", carol);
        var extra = (await RemoteAsync("token-add", "user", "carol", "--expires", "1d")).Stdout.Trim();
        deployment.Tokens.Add(extra);
        Assert.Contains((await RemoteAsync("users")).Stdout.Split('\n'), l => l.StartsWith("carol", StringComparison.Ordinal) && l.Contains("@students", StringComparison.Ordinal));
        var tokens = (await RemoteAsync("tokens")).Stdout;
        Assert.Contains(AccessFixture.TokenId(extra), tokens);
        Assert.DoesNotContain(extra[^43..], tokens);

        // Every change is an audit event naming the admin and where they came from.
        var changes = (await RemoteAsync("audit", "--event", "admin", "--json")).Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => JsonDocument.Parse(l).RootElement).Where(e => e.GetProperty("admin").GetString() == "boss").ToList();
        Assert.Equal(["revoke", "grant", "revoke", "add_user", "token_add"], changes.Select(e => e.GetProperty("outcome").GetString()));
        Assert.All(changes, e => Assert.StartsWith("127.0.0.1:", e.GetProperty("source").GetString()));
        Assert.Contains(changes, e => e.GetProperty("reason").GetString() == "granted researcher 'node1' (echo)");
        // The local command that made the admin is audited too, as local:OSUSER.
        var local = (await _fixture.AdminAsync("audit", "--event", "admin", "--json")).Stdout;
        Assert.Contains("\"outcome\":\"add_admin\"", local);
        Assert.Contains("\"admin\":\"local:", local);
    }

    [Fact]
    public async Task UserAgentAndForgedTokensGetTheSameBare401FromEveryAdminEndpoint()
    {
        var deployment = _fixture.Deployment;
        var admin = await LoginAdminAsync("boss");
        var agentToken = (await File.ReadAllTextAsync(deployment.Dir.File("lab-a.token"))).Trim();
        var forgedAdmin = admin[..^43] + new string('A', 43);
        var credentials = new (string What, string? Token)[]
        {
            ("a user token", deployment.UserToken), ("an agent token", agentToken), ("an admin id with a wrong secret", forgedAdmin),
            ("garbage", "hello"), ("no token", null),
        };
        var rulesBefore = (await _fixture.AdminAsync("rules", "--json")).Stdout;
        var userApiRefusal = await SendAsync("GET", "/api/v1/whoami", null, "hello", Source(0));
        Assert.Equal(HttpStatusCode.Unauthorized, userApiRefusal.Status);
        Assert.Equal("invalid or revoked token", JsonDocument.Parse(userApiRefusal.Body).RootElement.GetProperty("error").GetString());

        // Each attempt from its own loopback address, so the limiter (tested below) does not turn 401s into 429s.
        var n = 1;
        foreach (var (what, token) in credentials)
        {
            foreach (var (method, path, body) in Endpoints)
            {
                var answer = await SendAsync(method, $"/api/v1/admin/{path}", body, token, Source(n++));
                Assert.True(answer.Status == HttpStatusCode.Unauthorized, $"{what} got {(int)answer.Status} from {method} {path}: {answer.Body}");
                Assert.Equal(userApiRefusal.Body, answer.Body);
            }
        }
        output.WriteLine($"{n - 1} refused admin requests, all 401 {userApiRefusal.Body}");

        // Nothing changed, and the admin's own token still works.
        Assert.Equal(rulesBefore, (await _fixture.AdminAsync("rules", "--json")).Stdout);
        Assert.DoesNotContain("mallory", (await _fixture.AdminAsync("users")).Stdout);
        Assert.Equal(HttpStatusCode.OK, (await SendAsync("GET", "/api/v1/admin/rules", null, admin, Source(n++))).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await SendAsync("GET", "/api/v1/admin/no-such-endpoint", null, admin, Source(n++))).Status);

        // Rate-limited like every other authentication: the tenth failure empties the address's bucket and says so.
        var limitedFrom = Source(n++);
        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 12; i++)
        {
            statuses.Add((await SendAsync("GET", "/api/v1/admin/rules", null, deployment.UserToken, limitedFrom)).Status);
        }
        Assert.All(statuses.Take(9), s => Assert.Equal(HttpStatusCode.Unauthorized, s));
        Assert.All(statuses.Skip(9), s => Assert.Equal(HttpStatusCode.TooManyRequests, s));
    }

    [Fact]
    public async Task ARevokedOrDisabledAdminTokenStopsWorking()
    {
        var admin = await LoginAdminAsync("boss");
        Assert.Contains("@everyone", (await RemoteAsync("rules")).Stdout);

        await _fixture.AdminAsync("token-revoke", AccessFixture.TokenId(admin));
        var refused = await _fixture.Deployment.JumpgateAsync("gateway", "rules", "--remote");
        Assert.Equal(1, refused.ExitCode);
        Assert.Contains("invalid or revoked token", refused.Stderr);

        var second = (await _fixture.AdminAsync("token-add", "admin", "boss")).Stdout.Trim();
        _fixture.Deployment.Tokens.Add(second);
        await LoginAdminAsync(null, second);
        Assert.Equal(0, (await _fixture.Deployment.JumpgateAsync("gateway", "rules", "--remote")).ExitCode);
        await _fixture.AdminAsync("disable", "admin", "boss");
        var disabled = await _fixture.Deployment.JumpgateAsync("gateway", "grant", "@everyone", "*", "--remote");
        Assert.Equal(1, disabled.ExitCode);
        Assert.Contains("invalid or revoked token", disabled.Stderr);
        // A stale admin credential is audited with the admin's name.
        Assert.Contains("\"admin\":\"boss\"", (await _fixture.AdminAsync("audit", "--event", "auth", "--json")).Stdout);
    }

    [Fact]
    public async Task AnAdminTokenOpensNoStreamAndAUserTokenCannotLogInAsAdmin()
    {
        var admin = await LoginAdminAsync("boss");
        await using (var stream = await _fixture.ConnectAsync("node1", "echo", admin))
        {
            Assert.Equal("invalid or revoked token", stream.Error);
        }
        var asUser = await _fixture.Deployment.JumpgateAsync("admin", "login", _fixture.Deployment.GatewayUrl, "--token", _fixture.Deployment.UserToken, "--fingerprint", _fixture.Deployment.Fingerprint);
        Assert.Equal(1, asUser.ExitCode);
        Assert.Contains("give your admin token (jgx_", asUser.Stderr);
        var both = await _fixture.Deployment.JumpgateAsync("gateway", "rules", "--remote", "--dir", _fixture.Deployment.GatewayDir);
        Assert.Equal(1, both.ExitCode);
        Assert.Contains("not both", both.Stderr);
    }

    /// <summary>Adds an admin (unless <paramref name="token"/> is given) and logs the client in with it through a token file; returns the token.</summary>
    private async Task<string> LoginAdminAsync(string? name, string? token = null)
    {
        var deployment = _fixture.Deployment;
        if (token is null)
        {
            token = (await _fixture.AdminAsync("add-admin", name!)).Stdout.Trim();
            deployment.Tokens.Add(token);
        }
        var file = deployment.Dir.File($"admin-{Guid.NewGuid():N}.token");
        await File.WriteAllTextAsync(file, token);
        var login = await deployment.JumpgateAsync("admin", "login", deployment.GatewayUrl, "--token-file", file, "--fingerprint", deployment.Fingerprint);
        Assert.True(login.ExitCode == 0, login.ToString());
        return token;
    }

    private async Task<CommandResult> RemoteAsync(params string[] arguments)
    {
        var result = await _fixture.Deployment.JumpgateAsync(["gateway", .. arguments, "--remote"]);
        Assert.True(result.ExitCode == 0, $"`jumpgate gateway {string.Join(' ', arguments)} --remote` failed: {result}");
        return result;
    }

    /// <summary>127.0.0.N for N ≥ 10, away from the addresses other tests use.</summary>
    private static IPAddress Source(int n) => new([127, 0, (byte)(n / 200), (byte)(10 + n % 200)]);

    private async Task<(HttpStatusCode Status, string Body)> SendAsync(string method, string path, string? body, string? token, IPAddress source)
    {
        using var http = new HttpClient(new SocketsHttpHandler
        {
            SslOptions = { RemoteCertificateValidationCallback = (_, _, _, _) => true },
            ConnectCallback = async (context, cancellationToken) =>
            {
                var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
                socket.Bind(new IPEndPoint(source, 0));
                await socket.ConnectAsync(context.DnsEndPoint.Host, context.DnsEndPoint.Port, cancellationToken);
                return new NetworkStream(socket, ownsSocket: true);
            },
        })
        {
            BaseAddress = new Uri(_fixture.Deployment.GatewayUrl),
            Timeout = Signals.Timeout(30),
        };
        using var request = new HttpRequestMessage(new HttpMethod(method), path);
        if (token is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }
        if (body is not null)
        {
            request.Content = new StringContent(body, Encoding.UTF8, "application/json");
        }
        using var response = await http.SendAsync(request);
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }
}
