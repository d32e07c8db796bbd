using System.Net.Http.Headers;
using System.Security.Claims;
using System.Text;
using System.Text.Json;
using Jumpgate.Gateway.Configuration;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Protocols;
using Microsoft.IdentityModel.Protocols.OpenIdConnect;
using Microsoft.IdentityModel.Tokens;

namespace Jumpgate.Gateway.Oidc;

/// <summary>
/// The identity provider as the gateway talks to it: its discovery document and signing keys
/// (one <see cref="ConfigurationManager{T}"/>, shared with the browser flow's handler, which caches
/// them and reads them again when a token names a key it has not seen: a rotation), ID token
/// validation, and the token endpoint's grants the gateway uses itself (refresh, device code).
/// </summary>
internal sealed class OidcProvider : IDisposable
{
    private readonly HttpClient _http;
    private readonly string _clientSecret;

    public OidcProvider(OidcOptions options, HttpMessageHandler? handler = null)
    {
        Options = options;
        _clientSecret = ReadSecret(options.ClientSecretFile);
        _http = new HttpClient(handler ?? new SocketsHttpHandler(), disposeHandler: true) { Timeout = TimeSpan.FromSeconds(15) };
        _http.DefaultRequestHeaders.UserAgent.Add(new ProductInfoHeaderValue("jumpgate-gateway", "1"));
        var metadata = new Uri(options.Issuer.AbsoluteUri.TrimEnd('/') + "/.well-known/openid-configuration");
        Configuration = new ConfigurationManager<OpenIdConnectConfiguration>(
            metadata.AbsoluteUri, new OpenIdConnectConfigurationRetriever(), new HttpDocumentRetriever(_http) { RequireHttps = !options.AllowsHttp });
    }

    public OidcOptions Options { get; }

    public string ClientSecret => _clientSecret;

    public HttpClient Backchannel => _http;

    public ConfigurationManager<OpenIdConnectConfiguration> Configuration { get; }

    /// <summary>
    /// What the gateway checks in every ID token, whichever way it came: the provider's keys,
    /// its issuer, this gateway's client id as the audience, and the token's lifetime.
    /// </summary>
    public TokenValidationParameters ValidationParameters(OpenIdConnectConfiguration configuration) => new()
    {
        ValidIssuer = configuration.Issuer,
        ValidAudience = Options.ClientId,
        IssuerSigningKeys = configuration.SigningKeys,
        ValidateIssuer = true,
        ValidateAudience = true,
        ValidateLifetime = true,
        ValidateIssuerSigningKey = true,
        RequireSignedTokens = true,
        RequireExpirationTime = true,
        ClockSkew = TimeSpan.FromMinutes(1),
    };

    /// <summary>
    /// Validates an ID token the gateway received itself (a refresh, a device sign-in): its
    /// signature against the provider's keys (read again in the background when one is not known), issuer,
    /// audience, lifetime, and the nonce when one was sent. The identity, or why not.
    /// </summary>
    public async Task<(ClaimsIdentity? Identity, string? Error)> ValidateIdTokenAsync(string idToken, string? expectedNonce, CancellationToken cancellationToken)
    {
        var handler = new JsonWebTokenHandler { MapInboundClaims = false };
        var configuration = await Configuration.GetConfigurationAsync(cancellationToken);
        var result = await handler.ValidateTokenAsync(idToken, ValidationParameters(configuration));
        if (result.Exception is SecurityTokenSignatureKeyNotFoundException or SecurityTokenInvalidSignatureException)
        {
            // Perhaps a key the provider rotated in: the manager reads its keys again in the background, at most once
            // per its refresh interval (5 min), so forged tokens cannot make the gateway hammer the provider.
            Configuration.RequestRefresh();
        }
        if (!result.IsValid)
        {
            return (null, Describe(result.Exception));
        }
        var nonce = result.ClaimsIdentity.FindFirst("nonce")?.Value;
        if (expectedNonce is not null && !string.Equals(nonce, expectedNonce, StringComparison.Ordinal))
        {
            return (null, "the ID token's nonce is not the one this sign-in sent");
        }
        return (result.ClaimsIdentity, null);
    }

    /// <summary>A grant at the provider's token endpoint, authenticated with the client secret; the JSON answer, or the provider's error.</summary>
    public async Task<TokenAnswer> TokenAsync(IReadOnlyDictionary<string, string> grant, CancellationToken cancellationToken)
    {
        var configuration = await Configuration.GetConfigurationAsync(cancellationToken);
        return await PostAsync(configuration.TokenEndpoint, grant, cancellationToken);
    }

    /// <summary>Starts a device sign-in (RFC 8628) at the provider; its answer (device_code, user_code, verification_uri…) or error.</summary>
    public async Task<TokenAnswer> DeviceAuthorizationAsync(CancellationToken cancellationToken)
    {
        var configuration = await Configuration.GetConfigurationAsync(cancellationToken);
        var endpoint = configuration.DeviceAuthorizationEndpoint;
        if (string.IsNullOrEmpty(endpoint))
        {
            return new TokenAnswer(null, "unsupported", $"the identity provider {Options.Issuer} offers no device sign-in (no device_authorization_endpoint); sign in with a user token instead");
        }
        return await PostAsync(endpoint, new Dictionary<string, string> { ["scope"] = string.Join(' ', Options.Scopes) }, cancellationToken);
    }

    private async Task<TokenAnswer> PostAsync(string endpoint, IReadOnlyDictionary<string, string> fields, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, endpoint) { Content = new FormUrlEncodedContent(fields) };
        // client_secret_basic: form-encoded id and secret, as RFC 6749 2.3.1 says.
        var basic = $"{Uri.EscapeDataString(Options.ClientId)}:{Uri.EscapeDataString(_clientSecret)}";
        request.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes(basic)));
        using var response = await _http.SendAsync(request, cancellationToken);
        var body = await response.Content.ReadAsStringAsync(cancellationToken);
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(body);
        }
        catch (JsonException)
        {
            return new TokenAnswer(null, "invalid_response", $"the identity provider answered HTTP {(int)response.StatusCode} without JSON");
        }
        var root = document.RootElement;
        if (!response.IsSuccessStatusCode || root.TryGetProperty("error", out _))
        {
            var error = root.TryGetProperty("error", out var e) ? e.GetString() ?? "error" : "error";
            var description = root.TryGetProperty("error_description", out var d) ? d.GetString() : null;
            document.Dispose();
            return new TokenAnswer(null, error, Explain(error, description));
        }
        return new TokenAnswer(document, null, null);
    }

    /// <summary>The provider's error in words a person can act on; the client secret is never part of them.</summary>
    public string Explain(string error, string? description) => error switch
    {
        "invalid_client" or "unauthorized_client" =>
            $"the identity provider {Options.Issuer} refused this gateway's client credentials ({error}); check oidc.client_id and the secret in {Options.ClientSecretFile}",
        _ => $"the identity provider said {error}{(string.IsNullOrEmpty(description) ? "" : $": {description}")}",
    };

    public static string Describe(Exception? exception) => exception switch
    {
        SecurityTokenSignatureKeyNotFoundException or SecurityTokenInvalidSignatureException => "the ID token's signature does not match the provider's keys",
        SecurityTokenInvalidAudienceException => "the ID token was issued for another client",
        SecurityTokenInvalidIssuerException => "the ID token was issued by another provider",
        SecurityTokenExpiredException => "the ID token has expired",
        SecurityTokenNotYetValidException => "the ID token is not valid yet",
        null => "the ID token is not valid",
        _ => $"the ID token is not valid ({exception.GetType().Name})",
    };

    private static string ReadSecret(string path)
    {
        if (!File.Exists(path))
        {
            throw new InvalidOperationException($"oidc.client_secret_file {path} does not exist; write the client secret the identity provider gave into it (chmod 600)");
        }
        var secret = File.ReadAllText(path).Trim();
        if (secret.Length == 0)
        {
            throw new InvalidOperationException($"oidc.client_secret_file {path} is empty; write the client secret the identity provider gave into it");
        }
        return secret;
    }

    public void Dispose() => _http.Dispose();
}

/// <summary>A token endpoint's answer: the JSON (the caller disposes it), or the provider's error code and words for a person.</summary>
internal sealed record TokenAnswer(JsonDocument? Json, string? Error, string? Message) : IDisposable
{
    public string? Get(string name) => Json is not null && Json.RootElement.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    public int? GetInt(string name) => Json is not null && Json.RootElement.TryGetProperty(name, out var value) && value.TryGetInt32(out var number) ? number : null;

    public void Dispose() => Json?.Dispose();
}
