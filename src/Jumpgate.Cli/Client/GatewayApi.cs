using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using Jumpgate.Core.Protocol;
using Jumpgate.Core.Security;
using Jumpgate.Gateway.Api;

namespace Jumpgate.Cli.Client;

/// <summary>The gateway's JSON API over a pinned TLS connection.</summary>
internal sealed class GatewayApi(GatewayEndpoint gateway, string token) : IDisposable
{
    private readonly HttpClient _http = new(new SocketsHttpHandler
    {
        SslOptions = TlsDefaults.ClientOptions(gateway.Address.IdnHost, gateway.Pinned),
        ConnectTimeout = TimeSpan.FromSeconds(10),
    })
    {
        BaseAddress = gateway.Address,
        Timeout = TimeSpan.FromSeconds(30),
        DefaultRequestHeaders = { Authorization = new AuthenticationHeaderValue("Bearer", token) },
    };

    public static GatewayApi FromSettings(ClientSettings settings) =>
        new(GatewayEndpoint.Parse(settings.Gateway, settings.Fingerprint), settings.Token);

    public Task<WhoAmI> WhoAmIAsync(CancellationToken cancellationToken) =>
        GetAsync("/api/v1/whoami", ApiJson.Default.WhoAmI, cancellationToken);

    public Task<IReadOnlyList<HostListing>> HostsAsync(CancellationToken cancellationToken) =>
        GetAsync("/api/v1/hosts", ApiJson.Default.IReadOnlyListHostListing, cancellationToken);

    public Task<OpenLink> OpenAsync(string host, string service, CancellationToken cancellationToken) =>
        GetAsync($"/api/v1/open?host={Uri.EscapeDataString(host)}&service={Uri.EscapeDataString(service)}", ApiJson.Default.OpenLink, cancellationToken);

    private async Task<T> GetAsync<T>(string path, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> type, CancellationToken cancellationToken)
    {
        HttpResponseMessage response;
        try
        {
            response = await _http.GetAsync(path, cancellationToken);
        }
        catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new CliException($"gateway {gateway} did not answer {path} within {_http.Timeout.TotalSeconds:0} s");
        }
        catch (HttpRequestException e)
        {
            // The TLS layer reports a pin mismatch as an authentication failure; say it in words.
            var pinned = e.InnerException is System.Security.Authentication.AuthenticationException;
            throw new CliException(pinned
                ? $"gateway {gateway} did not present the pinned certificate {gateway.Pinned}; refusing to talk to it"
                : $"gateway {gateway} is unreachable: {e.Message}");
        }
        using (response)
        {
            if (response.StatusCode == HttpStatusCode.Unauthorized)
            {
                throw new CliException($"gateway {gateway} refused the token: invalid or revoked token");
            }
            if (!response.IsSuccessStatusCode)
            {
                // The gateway explains refusals in words ({"error": "..."}); pass them on as they are.
                var explained = await ErrorOfAsync(response, cancellationToken);
                throw new CliException(explained ?? $"gateway {gateway} answered {(int)response.StatusCode} {response.ReasonPhrase} to {path}");
            }
            return await response.Content.ReadFromJsonAsync(type, cancellationToken)
                ?? throw new CliException($"gateway {gateway} sent an empty answer to {path}");
        }
    }

    private static async Task<string?> ErrorOfAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        try
        {
            var body = await response.Content.ReadFromJsonAsync(ApiJson.Default.DictionaryStringString, cancellationToken);
            return body?.GetValueOrDefault("error");
        }
        catch (Exception e) when (e is System.Text.Json.JsonException or NotSupportedException or HttpRequestException)
        {
            return null;
        }
    }

    public void Dispose() => _http.Dispose();
}
