using System.Buffers;
using System.Buffers.Text;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace Jumpgate.Gateway.Acme;

/// <summary>
/// The RFC 8555 steps the gateway needs, and no more: an account, an order for its names, one kind of
/// challenge per order, finalize with a CSR, download the chain. Every request is a JWS POST with a
/// fresh nonce; a <c>badNonce</c> refusal is retried with the nonce it carries, as the RFC asks.
/// </summary>
internal sealed class AcmeClient
{
    /// <summary>How often one request is re-sent after <c>badNonce</c>; a CA that keeps refusing nonces is broken, not busy.</summary>
    private const int BadNonceRetries = 5;

    /// <summary>How long an authorization or order may stay pending: a CA validates in seconds, and a challenge it cannot reach never turns valid.</summary>
    private static readonly TimeSpan PollDeadline = TimeSpan.FromMinutes(2);

    private readonly HttpClient _http;
    private readonly AcmeAccountKey _key;
    private readonly Uri _newNonce;
    private readonly Uri _newOrder;
    private readonly TimeProvider _time;
    private string? _nonce;

    private AcmeClient(HttpClient http, AcmeAccountKey key, Uri newNonce, Uri newOrder, TimeProvider time)
    {
        _http = http;
        _key = key;
        _newNonce = newNonce;
        _newOrder = newOrder;
        _time = time;
    }

    /// <summary>The account's URL (the JWS <c>kid</c>), once <see cref="ConnectAsync"/> has it.</summary>
    public string Account { get; private set; } = "";

    /// <summary>Reads the directory and finds or creates the account of <paramref name="key"/> (agreeing to the CA's terms).</summary>
    public static async Task<AcmeClient> ConnectAsync(HttpClient http, Uri directory, AcmeAccountKey key, string email, TimeProvider time, CancellationToken cancellationToken)
    {
        JsonElement urls;
        try
        {
            using var response = await http.GetAsync(directory, cancellationToken);
            if (!response.IsSuccessStatusCode)
            {
                throw new AcmeException($"the ACME directory {directory} answered {(int)response.StatusCode} {response.ReasonPhrase}");
            }
            urls = JsonDocument.Parse(await response.Content.ReadAsByteArrayAsync(cancellationToken)).RootElement.Clone();
        }
        catch (Exception e) when (e is HttpRequestException or JsonException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
        {
            throw new AcmeException($"the ACME directory {directory} cannot be read: {e.Message}", e);
        }
        var client = new AcmeClient(http, key, Url(urls, "newNonce", directory), Url(urls, "newOrder", directory), time);
        var payload = Json(json =>
        {
            json.WriteBoolean("termsOfServiceAgreed", true);
            json.WriteStartArray("contact");
            json.WriteStringValue("mailto:" + email);
            json.WriteEndArray();
        });
        var account = await client.PostAsync(Url(urls, "newAccount", directory), payload, cancellationToken);
        var status = account.Body.GetProperty("status").GetString();
        if (status != "valid")
        {
            throw new AcmeException($"the CA's account for {email} is {status}; a deactivated or revoked account cannot order certificates (delete acme/account.key to make a new one)");
        }
        client.Account = account.Location ?? throw new AcmeException("the CA created the account but did not say its URL (no Location header)");
        return client;
    }

    /// <summary>
    /// Orders a certificate for <paramref name="names"/>, proves control of each through
    /// <paramref name="challenge"/>, and returns the PEM chain issued for <paramref name="csr"/> (DER).
    /// </summary>
    public async Task<string> OrderCertificateAsync(IReadOnlyList<string> names, IAcmeChallenge challenge, byte[] csr, CancellationToken cancellationToken)
    {
        var request = Json(json =>
        {
            json.WriteStartArray("identifiers");
            foreach (var name in names)
            {
                json.WriteStartObject();
                json.WriteString("type", "dns");
                json.WriteString("value", name);
                json.WriteEndObject();
            }
            json.WriteEndArray();
        });
        var order = await PostAsync(_newOrder, request, cancellationToken);
        var orderUrl = new Uri(order.Location ?? throw new AcmeException("the CA created the order but did not say its URL (no Location header)"));
        foreach (var authorization in order.Body.GetProperty("authorizations").EnumerateArray())
        {
            await AuthorizeAsync(new Uri(authorization.GetString()!), challenge, cancellationToken);
        }
        var ready = await PollAsync(orderUrl, "order", ["ready", "valid"], cancellationToken);
        if (ready.GetProperty("status").GetString() == "ready")
        {
            var finalize = new Uri(ready.GetProperty("finalize").GetString()!);
            await PostAsync(finalize, Json(json => json.WriteString("csr", Base64Url.EncodeToString(csr))), cancellationToken);
            ready = await PollAsync(orderUrl, "order", ["valid"], cancellationToken);
        }
        var certificate = new Uri(ready.GetProperty("certificate").GetString()!);
        var chain = await PostAsync(certificate, null, cancellationToken, "application/pem-certificate-chain");
        return chain.Text;
    }

    private async Task AuthorizeAsync(Uri url, IAcmeChallenge challenge, CancellationToken cancellationToken)
    {
        var authorization = (await PostAsync(url, null, cancellationToken)).Body;
        var identifier = authorization.GetProperty("identifier").GetProperty("value").GetString()!;
        if (authorization.GetProperty("status").GetString() == "valid")
        {
            // Proved recently for this account; the CA reuses it.
            return;
        }
        // A wildcard's authorization names the base domain and says so; its DNS-01 record is the base domain's.
        var wildcard = authorization.TryGetProperty("wildcard", out var w) && w.ValueKind == JsonValueKind.True;
        JsonElement? offered = null;
        foreach (var candidate in authorization.GetProperty("challenges").EnumerateArray())
        {
            if (candidate.GetProperty("type").GetString() == challenge.Type)
            {
                offered = candidate;
            }
        }
        if (offered is not { } chosen)
        {
            throw new AcmeException($"the CA offers no {challenge.Type} challenge for {(wildcard ? "*." : "")}{identifier}{(wildcard ? " (a wildcard needs dns-01)" : "")}");
        }
        var token = chosen.GetProperty("token").GetString()!;
        var keyAuthorization = _key.KeyAuthorization(token);
        await challenge.PrepareAsync(identifier, token, keyAuthorization, cancellationToken);
        try
        {
            await PostAsync(new Uri(chosen.GetProperty("url").GetString()!), Json(_ => { }), cancellationToken);
            await PollAsync(url, $"authorization of {(wildcard ? "*." : "")}{identifier}", ["valid"], cancellationToken);
        }
        finally
        {
            await challenge.CleanUpAsync(identifier, token, keyAuthorization, CancellationToken.None);
        }
    }

    /// <summary>POST-as-GET until the object reaches one of <paramref name="done"/>; invalid, or still pending at the deadline, is an error naming why.</summary>
    private async Task<JsonElement> PollAsync(Uri url, string what, string[] done, CancellationToken cancellationToken)
    {
        var deadline = _time.GetUtcNow() + PollDeadline;
        var wait = TimeSpan.FromMilliseconds(250);
        while (true)
        {
            var answer = await PostAsync(url, null, cancellationToken);
            var status = answer.Body.GetProperty("status").GetString();
            if (done.Contains(status))
            {
                return answer.Body;
            }
            if (status is "invalid" or "revoked" or "deactivated" or "expired")
            {
                throw new AcmeException($"the CA found the {what} {status}: {ProblemOf(answer.Body)}");
            }
            if (_time.GetUtcNow() + wait > deadline)
            {
                throw new AcmeException($"the {what} was still {status} after {PollDeadline.TotalMinutes:0} min");
            }
            // The CA validates on its own time; Retry-After, when sent, says when to look again.
            await Task.Delay(answer.RetryAfter is { } after && after < TimeSpan.FromSeconds(10) ? after : wait, _time, cancellationToken);
            wait = TimeSpan.FromTicks(Math.Min(wait.Ticks * 2, TimeSpan.FromSeconds(5).Ticks));
        }
    }

    /// <summary>The first error the CA recorded on an invalid authorization's challenges or order.</summary>
    private static string ProblemOf(JsonElement body)
    {
        if (body.TryGetProperty("error", out var error))
        {
            return Describe(error);
        }
        if (body.TryGetProperty("challenges", out var challenges))
        {
            foreach (var challenge in challenges.EnumerateArray())
            {
                if (challenge.TryGetProperty("error", out var failed))
                {
                    return Describe(failed);
                }
            }
        }
        return "no reason given";
    }

    private static string Describe(JsonElement problem) =>
        $"{(problem.TryGetProperty("detail", out var detail) ? detail.GetString() : "no detail")} ({(problem.TryGetProperty("type", out var type) ? type.GetString() : "no type")})";

    private async Task<AcmeAnswer> PostAsync(Uri url, byte[]? payload, CancellationToken cancellationToken, string accept = "application/json")
    {
        for (var attempt = 0; ; attempt++)
        {
            var nonce = _nonce ?? await NewNonceAsync(cancellationToken);
            _nonce = null;
            var body = _key.Sign(url, nonce, Account.Length == 0 ? null : Account, payload ?? [], postAsGet: payload is null);
            using var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = new ByteArrayContent(body) };
            request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/jose+json");
            request.Headers.Accept.ParseAdd(accept);
            HttpResponseMessage response;
            try
            {
                response = await _http.SendAsync(request, cancellationToken);
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
            {
                throw new AcmeException($"the CA at {url.GetLeftPart(UriPartial.Authority)} cannot be reached: {e.Message}", e);
            }
            using (response)
            {
                if (response.Headers.TryGetValues("Replay-Nonce", out var nonces))
                {
                    _nonce = nonces.FirstOrDefault();
                }
                var text = await response.Content.ReadAsStringAsync(cancellationToken);
                if (response.IsSuccessStatusCode)
                {
                    var json = response.Content.Headers.ContentType?.MediaType?.EndsWith("json", StringComparison.Ordinal) == true && text.Length > 0
                        ? JsonDocument.Parse(text).RootElement.Clone()
                        : default;
                    return new AcmeAnswer(json, text, response.Headers.Location?.ToString(), response.Headers.RetryAfter?.Delta);
                }
                var problem = ParseProblem(text);
                if (problem.Type == "urn:ietf:params:acme:error:badNonce" && attempt < BadNonceRetries)
                {
                    continue;
                }
                throw new AcmeException($"the CA refused {url.AbsolutePath}: {problem.Detail} ({problem.Type ?? $"HTTP {(int)response.StatusCode}"})");
            }
        }
    }

    private async Task<string> NewNonceAsync(CancellationToken cancellationToken)
    {
        try
        {
            using var response = await _http.SendAsync(new HttpRequestMessage(HttpMethod.Head, _newNonce), cancellationToken);
            return response.Headers.TryGetValues("Replay-Nonce", out var nonces) && nonces.FirstOrDefault() is { } nonce
                ? nonce
                : throw new AcmeException($"the CA's newNonce ({_newNonce}) answered {(int)response.StatusCode} without a Replay-Nonce");
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
        {
            throw new AcmeException($"the CA at {_newNonce.GetLeftPart(UriPartial.Authority)} cannot be reached: {e.Message}", e);
        }
    }

    private static (string? Type, string Detail) ParseProblem(string text)
    {
        try
        {
            var problem = JsonDocument.Parse(text).RootElement;
            return (problem.TryGetProperty("type", out var type) ? type.GetString() : null,
                problem.TryGetProperty("detail", out var detail) ? detail.GetString() ?? "" : "no detail");
        }
        catch (JsonException)
        {
            // Not a problem document (a proxy's error page): its words are not worth quoting.
            return (null, "an answer that is not an ACME problem document");
        }
    }

    private static Uri Url(JsonElement directory, string name, Uri at) =>
        directory.ValueKind == JsonValueKind.Object && directory.TryGetProperty(name, out var value) && Uri.TryCreate(value.GetString(), UriKind.Absolute, out var url)
            ? url
            : throw new AcmeException($"{at} is not an ACME directory (no {name} URL)");

    private static byte[] Json(Action<Utf8JsonWriter> members)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            members(json);
            json.WriteEndObject();
        }
        return buffer.WrittenSpan.ToArray();
    }

    private readonly record struct AcmeAnswer(JsonElement Body, string Text, string? Location, TimeSpan? RetryAfter);
}

/// <summary>An ACME step that failed, in words that name the CA's reason.</summary>
internal sealed class AcmeException(string message, Exception? inner = null) : Exception(message, inner);
