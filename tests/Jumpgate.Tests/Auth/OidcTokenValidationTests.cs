using System.Security.Claims;
using System.Security.Cryptography;
using System.Text.Json;
using Jumpgate.Gateway.Configuration;
using Jumpgate.Gateway.Oidc;
using Jumpgate.TestSupport;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using Xunit;

namespace Jumpgate.Tests.Auth;

/// <summary>
/// The gateway's ID token checks against a provider the test plays: its discovery document and
/// signing keys served over real loopback HTTP, tokens signed with the test's own keys. A token
/// is accepted only with the provider's signature, this gateway's client id as audience, a
/// lifetime that covers now and the sign-in's nonce.
/// </summary>
public sealed class OidcTokenValidationTests : IAsyncLifetime
{
    private const string ClientId = "jumpgate-gw";

    private readonly RSA _providerKey = RSA.Create(2048);
    private readonly TempDirectory _dir = new("jg-oidc-unit");
    private WebApplication _server = null!;
    private List<(string Kid, RSA Key)> _published = [];
    private string _issuer = "";
    private OidcProvider _provider = null!;
    private int _jwksReads;

    public async Task InitializeAsync()
    {
        _published = [("key-1", _providerKey)];
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        _server = builder.Build();
        _server.MapGet("/.well-known/openid-configuration", () => Results.Text(
            $$"""{"issuer":"{{_issuer}}","jwks_uri":"{{_issuer}}/jwks","authorization_endpoint":"{{_issuer}}/auth","token_endpoint":"{{_issuer}}/token","id_token_signing_alg_values_supported":["RS256"]}""",
            "application/json"));
        _server.MapGet("/jwks", () =>
        {
            Interlocked.Increment(ref _jwksReads);
            var keys = _published.Select(p =>
            {
                var parameters = p.Key.ExportParameters(false);
                return new Dictionary<string, string>
                {
                    ["kty"] = "RSA", ["use"] = "sig", ["alg"] = "RS256", ["kid"] = p.Kid,
                    ["n"] = Base64UrlEncoder.Encode(parameters.Modulus), ["e"] = Base64UrlEncoder.Encode(parameters.Exponent),
                };
            });
            return Results.Text(JsonSerializer.Serialize(new { keys }), "application/json");
        });
        await _server.StartAsync();
        _issuer = _server.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        var secret = _dir.File("client-secret");
        await File.WriteAllTextAsync(secret, "unit-test-secret");
        _provider = new OidcProvider(new OidcOptions { Issuer = new Uri(_issuer), ClientId = ClientId, ClientSecretFile = secret });
    }

    public async Task DisposeAsync()
    {
        _provider.Dispose();
        await _server.DisposeAsync();
        _providerKey.Dispose();
        _dir.Dispose();
    }

    private string Token(RSA key, string kid = "key-1", string audience = ClientId, string? issuer = null, DateTime? expires = null, string nonce = "n-1")
    {
        var now = DateTime.UtcNow;
        var expiry = expires ?? now.AddMinutes(5);
        return new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Issuer = issuer ?? _issuer,
            Audience = audience,
            IssuedAt = expiry.AddMinutes(-10),
            NotBefore = expiry.AddMinutes(-10),
            Expires = expiry,
            Subject = new ClaimsIdentity([new Claim("sub", "subject-alice"), new Claim("preferred_username", "alice"), new Claim("nonce", nonce), new Claim("groups", "lab")]),
            SigningCredentials = new SigningCredentials(new RsaSecurityKey(key) { KeyId = kid }, SecurityAlgorithms.RsaSha256),
        });
    }

    [Fact]
    public async Task AcceptsATokenTheProviderSignedForThisClient()
    {
        var (identity, error) = await _provider.ValidateIdTokenAsync(Token(_providerKey), "n-1", CancellationToken.None);

        Assert.Null(error);
        var (user, _) = OidcIdentity.From(identity!.Claims, _provider.Options);
        Assert.NotNull(user);
        Assert.Equal(("alice", "subject-alice"), (user.User, user.Subject));
        Assert.Equal(["lab"], user.Groups);
    }

    [Fact]
    public async Task RefusesATokenSignedWithAnotherKeyUnderTheProvidersKeyId()
    {
        using var forger = RSA.Create(2048);

        var (identity, error) = await _provider.ValidateIdTokenAsync(Token(forger), "n-1", CancellationToken.None);

        Assert.Null(identity);
        Assert.Equal("the ID token's signature does not match the provider's keys", error);
    }

    [Fact]
    public async Task RefusesATokenForAnotherClient()
    {
        var (identity, error) = await _provider.ValidateIdTokenAsync(Token(_providerKey, audience: "some-other-app"), "n-1", CancellationToken.None);

        Assert.Null(identity);
        Assert.Equal("the ID token was issued for another client", error);
    }

    [Fact]
    public async Task RefusesATokenFromAnotherIssuer()
    {
        var (identity, error) = await _provider.ValidateIdTokenAsync(Token(_providerKey, issuer: "https://evil.example"), "n-1", CancellationToken.None);

        Assert.Null(identity);
        Assert.Equal("the ID token was issued by another provider", error);
    }

    [Fact]
    public async Task RefusesAnExpiredToken()
    {
        var (identity, error) = await _provider.ValidateIdTokenAsync(Token(_providerKey, expires: DateTime.UtcNow.AddMinutes(-5)), "n-1", CancellationToken.None);

        Assert.Null(identity);
        Assert.Equal("the ID token has expired", error);
    }

    [Fact]
    public async Task RefusesATokenWithAnotherSignInsNonce()
    {
        var (identity, error) = await _provider.ValidateIdTokenAsync(Token(_providerKey, nonce: "n-other"), "n-1", CancellationToken.None);

        Assert.Null(identity);
        Assert.Equal("the ID token's nonce is not the one this sign-in sent", error);
    }

    [Fact]
    public async Task ReadsTheKeysAgainWhenTheProviderRotatesThem()
    {
        Assert.Null((await _provider.ValidateIdTokenAsync(Token(_providerKey), "n-1", CancellationToken.None)).Error);
        var readsBefore = _jwksReads;
        using var next = RSA.Create(2048);
        _published = [("key-1", _providerKey), ("key-2", next)];
        var rotated = Token(next, kid: "key-2");

        // The first token under the new key sends the manager to read the keys again, in the background; the keys it
        // caches then accept the token. Each attempt is a real validation; the loop ends on success or the deadline.
        using var deadline = new CancellationTokenSource(Signals.Timeout(30));
        (ClaimsIdentity? Identity, string? Error) result;
        do
        {
            result = await _provider.ValidateIdTokenAsync(rotated, "n-1", deadline.Token);
        }
        while (result.Error is not null && !deadline.IsCancellationRequested);

        Assert.Null(result.Error);
        Assert.Equal(readsBefore + 1, _jwksReads);
    }
}
