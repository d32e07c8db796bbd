using Jumpgate.Gateway.Http;
using Xunit;

namespace Jumpgate.Tests.Http;

/// <summary>Where a sign-in may send the browser next: a path on the same site, never one a browser reads as another origin.</summary>
public sealed class LocalPathTests
{
    [Theory]
    [InlineData("/")]
    [InlineData("/tree")]
    [InlineData("/headers?signed-in")]
    [InlineData("/lab/tree/notebooks%2Fa.ipynb?reset")]
    [InlineData("/files/caf%C3%A9.csv")]
    [InlineData("/a//b")]
    [InlineData("/search?q=a%5Cb&next=//x")]
    public void KeepsAPathOnTheSameSite(string path) => Assert.Equal(path, LocalPath.OrRoot(path));

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("tree")]
    [InlineData("https://evil.example/x")]
    [InlineData("//evil.example/x")]
    [InlineData("/\\evil.example/x")]
    [InlineData("\\\\evil.example/x")]
    [InlineData("/\t/evil.example/x")] // browsers drop the tab: //evil.example/x
    [InlineData("/\n/evil.example/x")]
    [InlineData("/\r\n/evil.example/x")]
    [InlineData("/\t\t\\evil.example")]
    [InlineData("/\u0000/evil.example")]
    [InlineData("/\u007f/evil.example")]
    [InlineData("/ /evil.example")]
    [InlineData(" //evil.example")]
    [InlineData("/x\\..\\\\evil.example")]
    [InlineData("/%2F/evil.example/x")] // decoded once more: ///evil.example/x
    [InlineData("/%2f%2fevil.example")]
    [InlineData("%2F%2Fevil.example")]
    [InlineData("/%5Cevil.example")]
    [InlineData("/%5c%5cevil.example")]
    [InlineData("/%09/evil.example/x")]
    [InlineData("/%0A/evil.example/x")]
    [InlineData("/%0d%0a/evil.example")]
    [InlineData("/x?%0d%0aSet-Cookie:%20a=b")]
    [InlineData("/\u2028/evil.example")]
    [InlineData("/／evil.example")]
    public void SendsAnythingABrowserCouldReadAsAnotherSiteToTheRoot(string? path) => Assert.Equal("/", LocalPath.OrRoot(path));
}
