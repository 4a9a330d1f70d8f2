import gbridge.asyncio
from tornado import httpclient, httpserver, netutil, web


class Hello(web.RequestHandler):
    def get(self):
        self.write("hello from Tornado on gbridge")


async def main():
    [sock] = netutil.bind_sockets(0, "127.0.0.1")
    httpserver.HTTPServer(web.Application([("/", Hello)])).add_sockets([sock])
    url = "http://127.0.0.1:%d/" % sock.getsockname()[1]
    response = await httpclient.AsyncHTTPClient().fetch(url)
    print(response.body.decode())


gbridge.asyncio.run(main())
