using System.Net;
using Jumpgate.Core.Security;
using Jumpgate.Gateway.Agents;
using Jumpgate.Gateway.Configuration;
using Jumpgate.Gateway.Http;
using Jumpgate.Gateway.Store;
using Jumpgate.Gateway.Store.Sqlite;
using Jumpgate.Tests.Auth;
using Jumpgate.Tests.Store;
using Microsoft.AspNetCore.Http;
using Microsoft.Net.Http.Headers;
using Xunit;

namespace Jumpgate.Tests.Http;

/// <summary>Browser sessions on a real store: what the cookie cache keeps, which host a session opens, and what sign-out ends.</summary>
public sealed class BrowserSessionsTests : IDisposable
{
    private const string Domain = "gw.example.org";

    private readonly TempStore _temp = new("jg-sessions");
    private readonly ManualTime _time = new();
    private readonly BrowserSessions _sessions;
    private readonly string _tokenId;

    public BrowserSessionsTests()
    {
        var options = new GatewayOptions
        {
            Listen = new IPEndPoint(IPAddress.Loopback, 7443), Domain = Domain,
            CertificatePath = "", KeyPath = "", Store = StoreLocation.Sqlite(_temp.Path),
        };
        _sessions = new BrowserSessions(_temp.Store.WebSessions, _temp.Store.Generation, new ServiceRouter(options, new AgentRegistry(), _temp.Store.Hosts), options, _time);
        _tokenId = _temp.Store.Principals.Add(PrincipalKind.User, "alice", null, _time.GetUtcNow()).Id;
    }

    public void Dispose() => _temp.Dispose();

    [Fact]
    public void MadeUpCookiesAreNeverKeptWhateverTheirShapeOrSize()
    {
        var signedIn = SignIn($"web--node1.{Domain}", signIn: null);
        Assert.NotNull(_sessions.Find(Request($"web--node1.{Domain}", signedIn)));
        var junk = new string('x', 31 * 1024);

        for (var i = 0; i < 2_000; i++)
        {
            var wellFormed = $"{Convert.ToHexStringLower(Guid.NewGuid().ToByteArray()[..8])}.{Convert.ToHexStringLower(Guid.NewGuid().ToByteArray())}{Convert.ToHexStringLower(Guid.NewGuid().ToByteArray())}";
            Assert.Null(_sessions.Find(Request(Domain, junk + i)));
            Assert.Null(_sessions.Find(Request($"web--node1.{Domain}", wellFormed)));
            // The real id with a wrong secret, and the real cookie in upper case: neither is a session.
            Assert.Null(_sessions.Find(Request($"web--node1.{Domain}", signedIn[..17] + wellFormed[17..])));
            Assert.Null(_sessions.Find(Request($"web--node1.{Domain}", signedIn.ToUpperInvariant())));
        }

        Assert.Equal(1, _sessions.Cached);
        Assert.NotNull(_sessions.Find(Request($"web--node1.{Domain}", signedIn)));
    }

    [Fact]
    public void ASessionOpensOnlyTheHostItWasIssuedFor()
    {
        var web = SignIn($"web--node1.{Domain}", signIn: null);

        Assert.NotNull(_sessions.Find(Request($"web--node1.{Domain}:7443", web)));
        Assert.Null(_sessions.Find(Request($"notes--node1.{Domain}", web)));
        Assert.Null(_sessions.Find(Request(Domain, web)));
        Assert.Null(_sessions.Find(Request("127.0.0.1:7443", web)));
        Assert.Null(_sessions.Find(Request("evil.example.org", web)));
        // Read again from the store, as after any write: it says the same.
        _temp.Store.Principals.Add(PrincipalKind.User, "bob", null, _time.GetUtcNow());
        Assert.Null(_sessions.Find(Request($"notes--node1.{Domain}", web)));
        Assert.NotNull(_sessions.Find(Request($"web--node1.{Domain}", web)));
    }

    [Fact]
    public void SigningOutAnywhereEndsEverySessionOfThatSignInAtOnceAndNoOther()
    {
        var gateway = SignIn(Domain, signIn: null);
        var signIn = _sessions.Find(Request(Domain, gateway))!.SignIn;
        var web = SignIn($"web--node1.{Domain}", signIn);
        var notes = SignIn($"notes--node1.{Domain}", signIn);
        var otherSignIn = SignIn($"notes--node1.{Domain}", signIn: null);
        // All four read once, so all four are in memory.
        Assert.NotNull(_sessions.Find(Request($"web--node1.{Domain}", web)));
        Assert.NotNull(_sessions.Find(Request($"notes--node1.{Domain}", notes)));
        Assert.NotNull(_sessions.Find(Request($"notes--node1.{Domain}", otherSignIn)));

        var ended = _sessions.SignOut(Request($"notes--node1.{Domain}", notes));

        // No clock advance: the cache forgot them, not just the store.
        Assert.Equal(3, ended?.Ended);
        Assert.Null(_sessions.Find(Request(Domain, gateway)));
        Assert.Null(_sessions.Find(Request($"web--node1.{Domain}", web)));
        Assert.Null(_sessions.Find(Request($"notes--node1.{Domain}", notes)));
        Assert.NotNull(_sessions.Find(Request($"notes--node1.{Domain}", otherSignIn)));
    }

    [Fact]
    public void ATokenRevokedElsewhereEndsItsSessionsAtTheNextRequest()
    {
        var web = SignIn($"web--node1.{Domain}", signIn: null);
        Assert.NotNull(_sessions.Find(Request($"web--node1.{Domain}", web)));
        using var admin = SqliteStore.Open(_temp.Path);

        admin.Tokens.Revoke(_tokenId);

        // No clock advance: the session is in memory, and the store's generation moved.
        Assert.Null(_sessions.Find(Request($"web--node1.{Domain}", web)));
    }

    [Fact]
    public void ASignOutThroughAnotherGatewayEndsTheSessionHereAtTheNextRequest()
    {
        var web = SignIn($"web--node1.{Domain}", signIn: null);
        var session = _sessions.Find(Request($"web--node1.{Domain}", web))!;
        using var otherGateway = SqliteStore.Open(_temp.Path);

        Assert.Equal(1, otherGateway.WebSessions.DeleteSignIn(session.SignIn));

        Assert.Null(_sessions.Find(Request($"web--node1.{Domain}", web)));
    }

    [Fact]
    public void ASessionEndsWhenItsTokenExpiresWithoutAnyWrite()
    {
        var token = _temp.Store.Tokens.Add(PrincipalKind.User, "alice", _time.GetUtcNow(), _time.GetUtcNow().AddMinutes(10));
        var web = SignIn($"web--node1.{Domain}", signIn: null, token.Id);
        Assert.NotNull(_sessions.Find(Request($"web--node1.{Domain}", web)));

        _time.Advance(TimeSpan.FromMinutes(10));

        Assert.Null(_sessions.Find(Request($"web--node1.{Domain}", web)));
    }

    [Fact]
    public void TheCacheDropsTheLeastRecentlyUsedSessionWhenFullInsteadOfEverything()
    {
        var cache = new SessionCache(capacity: 3);
        foreach (var id in new[] { "a", "b", "c" })
        {
            cache.Set(Cached(id));
        }
        Assert.True(cache.TryGet("a", out _));

        cache.Set(Cached("d"));

        Assert.Equal(3, cache.Count);
        Assert.False(cache.TryGet("b", out _));
        Assert.True(cache.TryGet("a", out _));
        Assert.True(cache.TryGet("c", out _));
        Assert.True(cache.TryGet("d", out _));
    }

    private CachedSession Cached(string id) =>
        new(new byte[32], new WebSession(id, "alice", _tokenId, _time.GetUtcNow().AddHours(1), Domain, "s"), Generation: 0);

    /// <summary>Signs in on <paramref name="host"/> and returns the cookie value the browser was given.</summary>
    private string SignIn(string host, string? signIn, string? tokenId = null)
    {
        var http = new DefaultHttpContext();
        http.Request.Host = new HostString(host);
        _sessions.SignIn(http, "alice", tokenId ?? _tokenId, signIn);
        var setCookie = SetCookieHeaderValue.Parse(http.Response.Headers.SetCookie.ToString());
        Assert.Equal(BrowserSessions.CookieName, setCookie.Name.Value);
        return setCookie.Value.Value!;
    }

    private static DefaultHttpContext Request(string host, string cookie)
    {
        var http = new DefaultHttpContext();
        http.Request.Host = new HostString(host);
        http.Request.Headers.Cookie = $"{BrowserSessions.CookieName}={cookie}";
        return http;
    }
}
