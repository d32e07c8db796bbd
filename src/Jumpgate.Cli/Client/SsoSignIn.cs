using Jumpgate.Core.Api;
using Jumpgate.Core.Protocol;

namespace Jumpgate.Cli.Client;

/// <summary>What a sign-in through the identity provider gives the CLI: a short-lived user token and the provider's refresh token.</summary>
internal sealed record SsoGrant(string User, string Token, DateTimeOffset Expires, string? RefreshToken);

/// <summary>
/// `jumpgate login --sso`: the device authorization flow (RFC 8628) through the gateway, which
/// holds the provider's client secret. The person opens the provider's page, confirms the code
/// the CLI shows, and the CLI, polling at the interval the provider set, gets a token that lives
/// an hour; before it expires, the next command asks for a new one with the refresh token.
/// </summary>
internal static class SsoSignIn
{
    /// <summary>How long before its expiry a token is renewed: a command that starts then still finishes with a valid one.</summary>
    public static readonly TimeSpan RenewBefore = TimeSpan.FromMinutes(5);

    private const string DevicePath = "/api/sso/device";
    private const string TokenPath = "/api/sso/token";

    public static async Task<SsoGrant> DeviceAsync(IReadOnlyList<GatewayEndpoint> gateways, TextWriter prompt, CancellationToken cancellationToken)
    {
        // No token yet: these two requests are anonymous, the gateway asks the provider.
        using var api = new GatewayApi(gateways, "none");
        var start = await PostAsync(api, DevicePath, [], cancellationToken);
        var open = start.GetValueOrDefault("verification_uri_complete") is { Length: > 0 } complete ? complete : start["verification_uri"];
        prompt.WriteLine($"to sign in, open {open} and confirm the code {start["user_code"]}");
        var interval = TimeSpan.FromSeconds(int.Parse(start["interval"], System.Globalization.CultureInfo.InvariantCulture));
        using var expiry = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        expiry.CancelAfter(TimeSpan.FromSeconds(int.Parse(start["expires_in"], System.Globalization.CultureInfo.InvariantCulture)));
        try
        {
            while (true)
            {
                // RFC 8628 3.5: the client waits the interval between polls, and five seconds more after slow_down.
                await Task.Delay(interval, expiry.Token);
                var answer = await PostAsync(api, TokenPath, [new("device_code", start["device_code"])], expiry.Token);
                switch (answer.GetValueOrDefault("status"))
                {
                    case "ok":
                        return Grant(answer);
                    case "slow_down":
                        interval += TimeSpan.FromSeconds(5);
                        break;
                }
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new CliException($"the code {start["user_code"]} expired before it was confirmed; run `jumpgate login --sso` again");
        }
    }

    /// <summary>A fresh token when the saved one expires within <see cref="RenewBefore"/>, saved; null when it need not be renewed.</summary>
    public static async Task<ClientSettings?> RefreshIfDueAsync(ClientSettings settings, CancellationToken cancellationToken)
    {
        if (settings.SsoRefreshToken is not { } refresh || settings.TokenExpires is not { } expires || expires - DateTimeOffset.UtcNow > RenewBefore)
        {
            return null;
        }
        using var api = new GatewayApi(settings.Endpoints(), "none");
        Dictionary<string, string> answer;
        try
        {
            answer = await PostAsync(api, TokenPath, [new("refresh_token", refresh)], cancellationToken);
        }
        catch (CliException e)
        {
            throw new CliException($"your sign-in through the identity provider has ended ({e.Message}); sign in again with `jumpgate login {settings.Gateway} --sso`");
        }
        var grant = Grant(answer);
        var renewed = settings with { Token = grant.Token, TokenExpires = grant.Expires, SsoRefreshToken = grant.RefreshToken ?? refresh };
        renewed.Save();
        return renewed;
    }

    private static SsoGrant Grant(Dictionary<string, string> answer) => new(
        answer["user"], answer["token"], DateTimeOffset.Parse(answer["expires"], System.Globalization.CultureInfo.InvariantCulture),
        answer.GetValueOrDefault("refresh_token") is { Length: > 0 } refresh ? refresh : null);

    private static async Task<Dictionary<string, string>> PostAsync(GatewayApi api, string path, KeyValuePair<string, string>[] fields, CancellationToken cancellationToken) =>
        await api.SendAsync(HttpMethod.Post, path, new FormUrlEncodedContent(fields), ApiJson.Default.DictionaryStringString, cancellationToken)
            ?? throw new CliException($"gateway {api.Gateway} sent an empty answer to {path}");
}
