using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Net.Http.Headers;

namespace Jumpgate.Gateway.Http;

/// <summary>
/// The sign-in form as the gateway's own page posts it: URL-encoded, a token and where to go
/// next. Anyone may post it without an account, so it is read within fixed bounds before anything
/// else happens: a declared or actual body over <see cref="MaxBodyBytes"/> gets 413, any other
/// content type (multipart, which ASP.NET would buffer to a temporary file) gets 415, and more
/// or longer fields than the page sends get 400. Nothing is buffered beyond one array of
/// <see cref="MaxBodyBytes"/>, and nothing touches the disk.
/// </summary>
internal sealed record SignInForm(string Token, string To)
{
    /// <summary>32 KiB: a token is 64 characters, and <c>to</c> (a URL that fitted Kestrel's 8 KiB request line) at most triples when the form encodes it.</summary>
    public const int MaxBodyBytes = 32 * 1024;

    /// <summary>The page sends two fields; a password manager may add one or two.</summary>
    public const int MaxFields = 8;

    public const int MaxKeyLength = 64;

    /// <summary>24 KiB: the longest <c>to</c> the page can send, encoded.</summary>
    public const int MaxValueLength = 24 * 1024;

    private const string FormType = "application/x-www-form-urlencoded";

    /// <summary>The form, or the status and words of a refusal (no body byte is ever quoted back).</summary>
    public static async Task<(SignInForm? Form, (int Status, string Reason)? Refusal)> ReadAsync(HttpRequest request, CancellationToken cancellationToken)
    {
        if (!MediaTypeHeaderValue.TryParse(request.ContentType, out var type) || !type.MediaType.Equals(FormType, StringComparison.OrdinalIgnoreCase))
        {
            return (null, (StatusCodes.Status415UnsupportedMediaType, $"the sign-in form is accepted only as {FormType}, as the sign-in page sends it"));
        }
        if (request.ContentLength > MaxBodyBytes)
        {
            return (null, TooLarge);
        }
        // Kestrel then refuses more for this request too: the rest of an oversized body is not even drained, the connection is closed.
        if (request.HttpContext.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
        {
            limit.MaxRequestBodySize = MaxBodyBytes;
        }
        var body = new byte[MaxBodyBytes + 1];
        var length = 0;
        try
        {
            int read;
            while (length < body.Length && (read = await request.Body.ReadAsync(body.AsMemory(length), cancellationToken)) > 0)
            {
                length += read;
            }
        }
        catch (BadHttpRequestException e)
        {
            // Kestrel's own verdict on the body: over the limit (chunked, so undeclared) or badly framed.
            return (null, e.StatusCode == StatusCodes.Status413PayloadTooLarge ? TooLarge : (e.StatusCode, "the sign-in form's body could not be read"));
        }
        if (length > MaxBodyBytes)
        {
            return (null, TooLarge);
        }
        Dictionary<string, Microsoft.Extensions.Primitives.StringValues> fields;
        try
        {
            using var reader = new FormReader(Encoding.UTF8.GetString(body, 0, length))
            {
                ValueCountLimit = MaxFields,
                KeyLengthLimit = MaxKeyLength,
                ValueLengthLimit = MaxValueLength,
            };
            fields = reader.ReadForm();
        }
        catch (InvalidDataException)
        {
            return (null, (StatusCodes.Status400BadRequest,
                $"the sign-in form has more fields, or longer ones, than the sign-in page sends (at most {MaxFields} fields of {MaxValueLength / 1024} KiB)"));
        }
        return (new SignInForm(fields.GetValueOrDefault("token").ToString(), fields.GetValueOrDefault("to").ToString()), null);
    }

    private static (int Status, string Reason) TooLarge =>
        (StatusCodes.Status413PayloadTooLarge, $"the sign-in form is larger than {MaxBodyBytes / 1024} KiB; the sign-in page sends far less");
}
