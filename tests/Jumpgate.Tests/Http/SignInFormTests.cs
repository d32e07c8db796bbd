using System.Text;
using Jumpgate.Gateway.Http;
using Microsoft.AspNetCore.Http;
using Xunit;

namespace Jumpgate.Tests.Http;

/// <summary>The sign-in form, which anyone may post: read within fixed bounds, URL-encoded only, refused in words.</summary>
public sealed class SignInFormTests
{
    [Fact]
    public async Task ReadsTheFormTheSignInPageSends()
    {
        var to = "https://jupyter--node1.gw.example.org/lab/tree/a b.ipynb?x=1&y=2";
        var http = Post("application/x-www-form-urlencoded; charset=UTF-8", $"token=jgu_abc&to={Uri.EscapeDataString(to)}");

        var (form, refusal) = await SignInForm.ReadAsync(http.Request, CancellationToken.None);

        Assert.Null(refusal);
        Assert.Equal(new SignInForm("jgu_abc", to), form);
    }

    [Theory]
    [InlineData("multipart/form-data; boundary=x")]
    [InlineData("text/plain")]
    [InlineData("application/json")]
    [InlineData(null)]
    public async Task RefusesAnythingButAUrlEncodedFormWith415(string? contentType)
    {
        var http = Post(contentType, "--x\r\nContent-Disposition: form-data; name=\"token\"\r\n\r\njgu_abc\r\n--x--\r\n");

        var (form, refusal) = await SignInForm.ReadAsync(http.Request, CancellationToken.None);

        Assert.Null(form);
        Assert.Equal(StatusCodes.Status415UnsupportedMediaType, refusal!.Value.Status);
        Assert.Contains("application/x-www-form-urlencoded", refusal.Value.Reason, StringComparison.Ordinal);
        Assert.Equal(0, http.Request.Body.Position);
    }

    [Fact]
    public async Task RefusesADeclaredLengthOverTheLimitBeforeReadingAByte()
    {
        var http = Post("application/x-www-form-urlencoded", "token=jgu_abc");
        http.Request.ContentLength = 1L << 30;

        var (_, refusal) = await SignInForm.ReadAsync(http.Request, CancellationToken.None);

        Assert.Equal(StatusCodes.Status413PayloadTooLarge, refusal!.Value.Status);
        Assert.Equal(0, http.Request.Body.Position);
    }

    [Fact]
    public async Task StopsReadingAnUndeclaredBodyOneByteOverTheLimit()
    {
        var http = Post("application/x-www-form-urlencoded", "token=" + new string('a', 4 << 20));

        var (_, refusal) = await SignInForm.ReadAsync(http.Request, CancellationToken.None);

        Assert.Equal(StatusCodes.Status413PayloadTooLarge, refusal!.Value.Status);
        Assert.Equal(SignInForm.MaxBodyBytes + 1, http.Request.Body.Position);
    }

    [Theory]
    [InlineData(SignInForm.MaxFields + 1, 1, 1)]
    [InlineData(2, SignInForm.MaxKeyLength + 1, 1)]
    [InlineData(1, 5, SignInForm.MaxValueLength + 1)]
    public async Task RefusesMoreOrLongerFieldsThanThePageSendsWith400(int fields, int keyLength, int valueLength)
    {
        var body = string.Join('&', Enumerable.Range(0, fields).Select(i => $"{i}{new string('k', keyLength - 1)}={new string('v', valueLength)}"));
        var http = Post("application/x-www-form-urlencoded", body);

        var (form, refusal) = await SignInForm.ReadAsync(http.Request, CancellationToken.None);

        Assert.Null(form);
        Assert.Equal(StatusCodes.Status400BadRequest, refusal!.Value.Status);
        Assert.Contains($"at most {SignInForm.MaxFields} fields", refusal.Value.Reason, StringComparison.Ordinal);
    }

    private static DefaultHttpContext Post(string? contentType, string body)
    {
        var http = new DefaultHttpContext();
        http.Request.Method = "POST";
        http.Request.ContentType = contentType;
        http.Request.Body = new MemoryStream(Encoding.UTF8.GetBytes(body));
        return http;
    }
}
