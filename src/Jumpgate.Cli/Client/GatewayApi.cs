using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json.Serialization.Metadata;
using Jumpgate.Core.Api;
using Jumpgate.Core.Protocol;
using Jumpgate.Core.Security;

namespace Jumpgate.Cli.Client;

/// <summary>The gateway's JSON API (the user's and the admin's) over a pinned TLS connection.</summary>
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
        GetAsync(ApiPaths.WhoAmI, ApiJson.Default.WhoAmI, cancellationToken);

    public Task<IReadOnlyList<HostListing>> HostsAsync(CancellationToken cancellationToken) =>
        GetAsync(ApiPaths.Hosts, ApiJson.Default.IReadOnlyListHostListing, cancellationToken);

    public Task<OpenLink> OpenAsync(string host, string service, CancellationToken cancellationToken) =>
        GetAsync($"{ApiPaths.Open}?host={Uri.EscapeDataString(host)}&service={Uri.EscapeDataString(service)}", ApiJson.Default.OpenLink, cancellationToken);

    public GatewayEndpoint Gateway => gateway;

    private async Task<T> GetAsync<T>(string path, JsonTypeInfo<T> type, CancellationToken cancellationToken) =>
        (await SendAsync(HttpMethod.Get, path, null, type, cancellationToken))!;

    /// <summary>
    /// Sends a request and reads the answer as <paramref name="type"/> (null for 204 No Content).
    /// A refusal becomes a <see cref="CliException"/> in words: the gateway's own error for a
    /// bad request, the same "invalid or revoked token" for every credential failure.
    /// </summary>
    public async Task<T?> SendAsync<T>(HttpMethod method, string path, HttpContent? body, JsonTypeInfo<T> type, CancellationToken cancellationToken)
    {
        HttpResponseMessage response;
        try
        {
            using var request = new HttpRequestMessage(method, path) { Content = body };
            response = await _http.SendAsync(request, cancellationToken);
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
                var error = await ErrorOfAsync(response, cancellationToken);
                throw new CliException(error is null
                    ? $"gateway {gateway} answered {(int)response.StatusCode} {response.ReasonPhrase} to {path}"
                    : response.StatusCode == HttpStatusCode.BadRequest ? error : $"gateway {gateway}: {error}");
            }
            if (response.StatusCode == HttpStatusCode.NoContent)
            {
                return default;
            }
            try
            {
                return await response.Content.ReadFromJsonAsync(type, cancellationToken)
                    ?? throw new CliException($"gateway {gateway} sent an empty answer to {path}");
            }
            catch (System.Text.Json.JsonException)
            {
                throw new CliException($"gateway {gateway} sent an answer to {path} that is not the JSON expected; is it a Jumpgate gateway of this version?");
            }
        }
    }

    /// <summary>The <c>error</c> of a JSON refusal, or null when the answer is something else.</summary>
    private static async Task<string?> ErrorOfAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        try
        {
            var body = await response.Content.ReadFromJsonAsync(ApiJson.Default.DictionaryStringString, cancellationToken);
            return body is not null && body.TryGetValue("error", out var error) ? error : null;
        }
        catch (Exception e) when (e is System.Text.Json.JsonException or NotSupportedException)
        {
            // Not our JSON (a proxy's error page): the status line says enough.
            return null;
        }
    }

    public void Dispose() => _http.Dispose();
}
