using System.Collections.Concurrent;
using Microsoft.AspNetCore.Http;

namespace Jumpgate.Gateway.Acme;

/// <summary>
/// HTTP-01: the gateway answers <c>/.well-known/acme-challenge/TOKEN</c> with the key authorization
/// on its plain-HTTP port, and nothing else there.
/// </summary>
internal sealed class Http01Challenge : IAcmeChallenge
{
    public const string PathPrefix = "/.well-known/acme-challenge/";

    private readonly ConcurrentDictionary<string, string> _answers = new(StringComparer.Ordinal);

    public string Type => "http-01";

    public Task PrepareAsync(string identifier, string token, string keyAuthorization, CancellationToken cancellationToken)
    {
        _answers[token] = keyAuthorization;
        return Task.CompletedTask;
    }

    public Task CleanUpAsync(string identifier, string token, string keyAuthorization, CancellationToken cancellationToken)
    {
        _answers.TryRemove(token, out _);
        return Task.CompletedTask;
    }

    /// <summary>The whole of the plain-HTTP port: a pending token's answer, 404 for anything else.</summary>
    public Task AnswerAsync(HttpContext http)
    {
        var path = http.Request.Path.Value ?? "";
        if (HttpMethods.IsGet(http.Request.Method) && path.StartsWith(PathPrefix, StringComparison.Ordinal)
            && _answers.TryGetValue(path[PathPrefix.Length..], out var answer))
        {
            http.Response.ContentType = "application/octet-stream";
            return http.Response.WriteAsync(answer, http.RequestAborted);
        }
        http.Response.StatusCode = StatusCodes.Status404NotFound;
        return Task.CompletedTask;
    }
}
