using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json.Serialization.Metadata;
using Jumpgate.Core.Api;
using Jumpgate.Core.Protocol;
using Jumpgate.Core.Security;

namespace Jumpgate.Cli.Client;

/// <summary>
/// The gateway's JSON API (the user's and the admin's) over a pinned TLS connection. Given several
/// gateways (that share a store), it asks the first that answers and stays with it: one that
/// refuses a connection, or does not complete TCP and TLS within <see cref="GatewayDialer.Patience"/>, is passed over.
/// </summary>
internal sealed class GatewayApi : IDisposable
{
    /// <summary>Requests time out after this long; a gateway that accepted the connection is not left for another.</summary>
    private static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(30);

    /// <summary>The TCP connect and TLS handshake with the only (or the last) gateway.</summary>
    private static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(10);

    private readonly IReadOnlyList<GatewayEndpoint> _gateways;
    private string _token;

    /// <summary>With `login --sso`: when <see cref="_token"/> is to be renewed, so a long command (`ls --watch`) renews it in time.</summary>
    private DateTimeOffset? _renewable;
    private readonly HttpClient?[] _clients;
    private readonly Action<GatewayEndpoint>? _answered;
    private int _current;

    /// <summary>Why the system's CA store refused the last unpinned gateway, for the error a person reads.</summary>
    private System.Net.Security.SslPolicyErrors? _untrusted;

    public GatewayApi(GatewayEndpoint gateway, string token) : this([gateway], token)
    {
    }

    /// <param name="answered">Told which gateway answered, after each answer (<see cref="GatewayPreference.Answered"/>).</param>
    public GatewayApi(IReadOnlyList<GatewayEndpoint> gateways, string token, Action<GatewayEndpoint>? answered = null)
    {
        ArgumentOutOfRangeException.ThrowIfZero(gateways.Count);
        _gateways = gateways;
        _token = token;
        _answered = answered;
        _clients = new HttpClient?[gateways.Count];
    }

    /// <summary>The connect timeout of one gateway: the failover's patience, or the whole of it for the last one.</summary>
    private TimeSpan ConnectTimeoutOf(GatewayEndpoint gateway) => gateway == _gateways[^1] ? ConnectTimeout : GatewayDialer.Patience;

    private HttpClient Client(int index)
    {
        if (_clients[index] is { } client)
        {
            return client;
        }
        var gateway = _gateways[index];
        return _clients[index] = new HttpClient(new SocketsHttpHandler
        {
            SslOptions = TlsDefaults.ClientOptions(gateway.Address.IdnHost, gateway.Pinned, onUntrusted: errors => _untrusted = errors),
            // The TCP connect and the TLS handshake together have the failover's patience, so a
            // gateway whose machine is gone, or one that takes the connection and never answers TLS,
            // costs a second before the next one is asked; the last one gets the whole timeout.
            // The request itself, once connected, keeps RequestTimeout: a slow answer is still an answer.
            ConnectTimeout = ConnectTimeoutOf(gateway),
            ConnectCallback = async (_, cancellationToken) =>
                new System.Net.Sockets.NetworkStream(await GatewayDialer.ConnectSocketAsync(gateway, cancellationToken), ownsSocket: true),
        })
        {
            BaseAddress = gateway.Address,
            // RequestTimeout is applied per request (SendOnceAsync), where it can be told from the connect timeout.
            Timeout = Timeout.InfiniteTimeSpan,
            DefaultRequestHeaders = { Authorization = new AuthenticationHeaderValue("Bearer", _token) },
        };
    }

    /// <summary>The API of the user's login, the gateway that answered last asked first.</summary>
    public static GatewayApi FromSettings(ClientSettings settings)
    {
        var preference = GatewayPreference.Of(settings.Endpoints());
        return new(preference.Gateways, settings.Token, preference.Answered) { _renewable = SsoSignIn.RenewsAt(settings) };
    }

    public Task<WhoAmI> WhoAmIAsync(CancellationToken cancellationToken) =>
        GetAsync(ApiPaths.WhoAmI, ApiJson.Default.WhoAmI, cancellationToken);

    public Task<IReadOnlyList<HostListing>> HostsAsync(CancellationToken cancellationToken) =>
        GetAsync(ApiPaths.Hosts, ApiJson.Default.IReadOnlyListHostListing, cancellationToken);

    public Task<OpenLink> OpenAsync(string host, string service, CancellationToken cancellationToken) =>
        GetAsync($"{ApiPaths.Open}?host={Uri.EscapeDataString(host)}&service={Uri.EscapeDataString(service)}", ApiJson.Default.OpenLink, cancellationToken);

    /// <summary>The SSH host keys the gateway vouches for <paramref name="host"/> (`jumpgate known-hosts`).</summary>
    public Task<HostKeysAnswer> HostKeysAsync(string host, CancellationToken cancellationToken) =>
        GetAsync($"{ApiPaths.HostKeys}?host={Uri.EscapeDataString(host)}", ApiJson.Default.HostKeysAnswer, cancellationToken);

    /// <summary>The dashboard's address and a one-time link that signs a browser in on it as this token's user (or admin, on the admin API's path).</summary>
    public Task<OpenLink> DashboardAsync(CancellationToken cancellationToken, string path = ApiPaths.Dashboard) =>
        GetAsync(path, ApiJson.Default.OpenLink, cancellationToken);

    /// <summary>The gateway that answered last (the first until one is asked).</summary>
    public GatewayEndpoint Gateway => _gateways[_current];

    private async Task<T> GetAsync<T>(string path, JsonTypeInfo<T> type, CancellationToken cancellationToken) =>
        (await SendAsync(HttpMethod.Get, path, null, type, cancellationToken))!;

    /// <summary>
    /// Sends a request and reads the answer as <paramref name="type"/> (null for 204 No Content).
    /// A refusal becomes a <see cref="CliException"/> in words: the gateway's own error for a
    /// bad request, the same "invalid or revoked token" for every credential failure.
    /// </summary>
    public async Task<T?> SendAsync<T>(HttpMethod method, string path, HttpContent? body, JsonTypeInfo<T> type, CancellationToken cancellationToken)
    {
        if (_renewable <= DateTimeOffset.UtcNow)
        {
            var current = await SsoSignIn.CurrentAsync(cancellationToken);
            (_token, _renewable) = (current.Token, SsoSignIn.RenewsAt(current));
            // The token rides in each client's default headers: the next request builds clients that carry the new one.
            Dispose();
            Array.Clear(_clients);
        }
        // A request is sent whole to one gateway; the body is kept to send again if that gateway never took the connection.
        var bytes = body is null ? null : await body.ReadAsByteArrayAsync(cancellationToken);
        var failures = new List<string>();
        for (var tried = 0; ; tried++)
        {
            var gateway = Gateway;
            try
            {
                var answer = await SendOnceAsync(Client(_current), gateway, method, path, bytes, body?.Headers.ContentType, type, cancellationToken);
                _answered?.Invoke(gateway);
                return answer;
            }
            catch (GatewayException e) when (tried < _gateways.Count - 1)
            {
                // Never connected, so nothing was sent: the next gateway may answer it.
                failures.Add(e.Message);
                _current = (_current + 1) % _gateways.Count;
            }
            catch (GatewayException e)
            {
                failures.Add(e.Message);
                throw new CliException(failures.Count == 1 ? e.Message : $"no gateway answered: {string.Join("; ", failures)}");
            }
        }
    }

    /// <summary>
    /// One request to one gateway. Throws <see cref="GatewayException"/> when no connection was
    /// made (refused, unresolved, or TCP and TLS not done within the client's connect timeout), so
    /// nothing was sent; a <see cref="CliException"/> for everything after that.
    /// </summary>
    private async Task<T?> SendOnceAsync<T>(HttpClient http, GatewayEndpoint gateway, HttpMethod method, string path, byte[]? body, MediaTypeHeaderValue? contentType, JsonTypeInfo<T> type, CancellationToken cancellationToken)
    {
        HttpResponseMessage response;
        // The request's own timeout, kept apart from the handler's connect timeout so the two are told apart.
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(RequestTimeout);
        try
        {
            using var request = new HttpRequestMessage(method, path) { Content = body is null ? null : new ByteArrayContent(body) { Headers = { ContentType = contentType } } };
            response = await http.SendAsync(request, timeout.Token);
        }
        catch (OperationCanceledException e) when (!timeout.IsCancellationRequested)
        {
            // Neither the caller nor the request's timeout: the handler's connect timeout, so nothing was sent.
            var patience = ConnectTimeoutOf(gateway);
            throw new GatewayException($"gateway {gateway} did not answer within {patience.TotalSeconds:0.#} s", inner: e);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new CliException($"gateway {gateway} did not answer {path} within {RequestTimeout.TotalSeconds:0} s");
        }
        catch (HttpRequestException e) when (e.HttpRequestError is HttpRequestError.ConnectionError or HttpRequestError.NameResolutionError)
        {
            // The connect callback's own words ("gateway … is unreachable: Connection refused") where it said them.
            throw new GatewayException(e.InnerException is GatewayException inner ? inner.Message : $"gateway {gateway} is unreachable: {e.Message}", inner: e);
        }
        catch (HttpRequestException e)
        {
            // The TLS layer reports a pin mismatch as an authentication failure; say it in words.
            var refused = e.InnerException is System.Security.Authentication.AuthenticationException;
            throw new CliException(!refused ? $"gateway {gateway} is unreachable: {e.Message}"
                : gateway.Pinned is null && _untrusted is { } errors ? gateway.Untrusted(errors)
                : $"gateway {gateway} did not present the pinned certificate {gateway.Pinned}; refusing to talk to it");
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

    public void Dispose()
    {
        foreach (var client in _clients)
        {
            client?.Dispose();
        }
    }
}
