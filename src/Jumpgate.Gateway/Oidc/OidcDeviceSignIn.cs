using System.Globalization;
using System.Text.Json;
using Jumpgate.Gateway.Auth;
using Jumpgate.Gateway.Configuration;
using Jumpgate.Gateway.Http;
using Microsoft.AspNetCore.Http;

namespace Jumpgate.Gateway.Oidc;

/// <summary>
/// `jumpgate login --sso`: the device authorization flow (RFC 8628), brokered by the gateway,
/// which alone holds the client secret. The CLI asks <see cref="DevicePath"/> for a code to show
/// its user, then polls <see cref="TokenPath"/>; once the user approved the code at the provider,
/// the gateway validates the ID token, admits the user (<see cref="OidcAccounts"/>) and answers
/// with a short-lived user token (<c>oidc.cli_session</c>) and the provider's refresh token, with which the CLI asks
/// <see cref="TokenPath"/> again for a fresh token before the old one expires. A refresh the
/// provider refuses is the end of the CLI's sign-in.
/// <para>
/// Both paths take no credential and each call costs a request to the provider, so they are
/// throttled per source as failed authentications are (<see cref="AuthRateLimiter"/>, with
/// <c>access.auth_failure_burst</c> and <c>auth_failure_interval</c>), in a bucket of their own so
/// that SSO traffic never locks out token sign-ins from the same network: every start takes a
/// token, and so does every poll or renewal the provider refuses; a poll the provider answers
/// (pending, slow down, or a token) gives its token back, so a person taking minutes to confirm a
/// code is never throttled. A limited source gets 429 with Retry-After.
/// </para>
/// </summary>
internal sealed class OidcDeviceSignIn(OidcProvider provider, OidcAccounts accounts, AccessOptions access, TimeProvider time)
{
    public const string DevicePath = "/api/sso/device";
    public const string TokenPath = "/api/sso/token";

    private readonly AuthRateLimiter _limiter = new(time, access);

    public async Task<bool> TryHandleAsync(HttpContext http)
    {
        if (!HttpMethods.IsPost(http.Request.Method) || http.Request.Path.Value is not (DevicePath or TokenPath))
        {
            return false;
        }
        var address = PeerAddress.Of(http) ?? "unknown";
        if (!_limiter.TryBegin(address, out var retryAfter))
        {
            var seconds = Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds));
            http.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
            await WriteAsync(http, StatusCodes.Status429TooManyRequests, ("error", $"too many sign-in requests from {AuthRateLimiter.SourceOf(address)}; try again in {seconds} s"));
            return true;
        }
        var answered = false;
        try
        {
            answered = http.Request.Path.Value == DevicePath ? await StartAsync(http) : await PollAsync(http);
        }
        catch (Exception e) when (e is HttpRequestException or InvalidOperationException or TaskCanceledException && !http.RequestAborted.IsCancellationRequested)
        {
            // The provider's outage is not the caller's doing.
            answered = true;
            await WriteAsync(http, StatusCodes.Status502BadGateway, ("error", $"the identity provider {provider.Options.Issuer} cannot be reached now ({e.Message})"));
        }
        finally
        {
            if (answered)
            {
                _limiter.Succeeded(address);
            }
            else
            {
                _limiter.Failed(address);
            }
        }
        return true;
    }

    /// <summary>A new code from the provider; false: a start always costs its source a token.</summary>
    private async Task<bool> StartAsync(HttpContext http)
    {
        using var answer = await provider.DeviceAuthorizationAsync(http.RequestAborted);
        if (answer.Json is null)
        {
            await WriteAsync(http, StatusCodes.Status400BadRequest, ("error", answer.Message!));
            return false;
        }
        await WriteAsync(http, StatusCodes.Status200OK,
            ("device_code", answer.Get("device_code") ?? ""), ("user_code", answer.Get("user_code") ?? ""),
            ("verification_uri", answer.Get("verification_uri") ?? ""), ("verification_uri_complete", answer.Get("verification_uri_complete") ?? ""),
            ("interval", (answer.GetInt("interval") ?? 5).ToString(System.Globalization.CultureInfo.InvariantCulture)),
            ("expires_in", (answer.GetInt("expires_in") ?? 600).ToString(System.Globalization.CultureInfo.InvariantCulture)));
        return false;
    }

    /// <summary>A poll or a renewal; true when the provider took the code or refresh token as real (pending, slow down, or a token).</summary>
    private async Task<bool> PollAsync(HttpContext http)
    {
        var form = await http.Request.ReadFormAsync(http.RequestAborted);
        var grant = form["device_code"].ToString() is { Length: > 0 } deviceCode
            ? new Dictionary<string, string> { ["grant_type"] = "urn:ietf:params:oauth:grant-type:device_code", ["device_code"] = deviceCode }
            : form["refresh_token"].ToString() is { Length: > 0 } refresh
                ? new Dictionary<string, string> { ["grant_type"] = "refresh_token", ["refresh_token"] = refresh }
                : null;
        if (grant is null)
        {
            await WriteAsync(http, StatusCodes.Status400BadRequest, ("error", "expected device_code or refresh_token"));
            return false;
        }
        using var answer = await provider.TokenAsync(grant, http.RequestAborted);
        if (answer.Json is null)
        {
            // Still waiting for the person at the provider: the CLI polls on, as RFC 8628 3.5 says.
            if (answer.Error is "authorization_pending" or "slow_down")
            {
                await WriteAsync(http, StatusCodes.Status200OK, ("status", answer.Error));
                return true;
            }
            await WriteAsync(http, StatusCodes.Status400BadRequest, ("error", answer.Message!));
            return false;
        }
        if (answer.Get("id_token") is not { } idToken)
        {
            await WriteAsync(http, StatusCodes.Status400BadRequest, ("error", "the identity provider sent no ID token; ask for the openid scope"));
            return true;
        }
        var (claims, invalid) = await provider.ValidateIdTokenAsync(idToken, expectedNonce: null, http.RequestAborted);
        var (identity, unnamed) = claims is null ? (null, invalid) : OidcIdentity.From(claims.Claims, provider.Options);
        if (identity is null)
        {
            await WriteAsync(http, StatusCodes.Status400BadRequest, ("error", unnamed!));
            return true;
        }
        var expires = time.GetUtcNow() + provider.Options.CliSession;
        var how = grant["grant_type"] == "refresh_token" ? "CLI sign-in refreshed at the identity provider" : "CLI sign-in with the identity provider (device code)";
        var (token, refusal) = accounts.Admit(identity, expires, PeerAddress.Of(http), how);
        if (token is null)
        {
            await WriteAsync(http, StatusCodes.Status403Forbidden, ("error", refusal!));
            return true;
        }
        await WriteAsync(http, StatusCodes.Status200OK, ("status", "ok"), ("user", identity.User), ("token", token.ToString()),
            ("expires", expires.ToString("O", System.Globalization.CultureInfo.InvariantCulture)), ("refresh_token", answer.Get("refresh_token") ?? ""));
        return true;
    }

    /// <summary>A flat JSON object of strings, as the CLI's API client reads every answer.</summary>
    private static async Task WriteAsync(HttpContext http, int status, params (string Name, string Value)[] fields)
    {
        http.Response.StatusCode = status;
        http.Response.ContentType = "application/json";
        http.Response.Headers.CacheControl = "no-store";
        await using var json = new Utf8JsonWriter(http.Response.Body);
        json.WriteStartObject();
        foreach (var (name, value) in fields)
        {
            json.WriteString(name, value);
        }
        json.WriteEndObject();
        await json.FlushAsync(http.RequestAborted);
    }
}
