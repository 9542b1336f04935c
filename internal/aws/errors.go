package aws

import (
	"errors"
	"net/http"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"
)

// ErrorCode returns the AWS error code of err ("" when it is not an AWS API error). Typed
// exceptions implement smithy.APIError, so this covers them and generic codes alike.
func ErrorCode(err error) string {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode()
	}
	return ""
}

// IsThrottling reports whether AWS throttled the call.
func IsThrottling(err error) bool {
	switch ErrorCode(err) {
	case "Throttling", "ThrottlingException", "ThrottledException", "RequestLimitExceeded",
		"TooManyRequestsException", "SlowDown", "RequestThrottled", "RequestThrottledException":
		return true
	}
	return false
}

// HTTPStatus returns the HTTP status code of an AWS response error, or 0.
func HTTPStatus(err error) int {
	var respErr *awshttp.ResponseError
	if errors.As(err, &respErr) {
		return respErr.HTTPStatusCode()
	}
	return 0
}

// IsNotFound reports a 404 from S3 (HeadObject answers NotFound without a typed body).
func IsNotFound(err error) bool {
	code := ErrorCode(err)
	return code == "NotFound" || code == "NoSuchKey" || code == "NoSuchVersion" || HTTPStatus(err) == http.StatusNotFound && code != "NoSuchBucket"
}

// IsServerError reports a 5xx, which is worth retrying.
func IsServerError(err error) bool {
	return HTTPStatus(err) >= 500
}
