/**
 * A client's request object, as an HTTP client keeps one on its errors: an instance of a class
 * (which redaction does not enter) whose body quotes what was sent, the card number included.
 */
export class HttpRequest {
  method = 'POST'
  body: string
  constructor(body: string) {
    this.body = body
  }
}
